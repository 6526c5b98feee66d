#ifndef OAUTH2_TOKEN_CACHE_H
#define OAUTH2_TOKEN_CACHE_H

/* Access tokens of a grant that is no user's (client credentials: the app
   itself), shared by the imports one process runs: a worker going through
   a tenant's batch asks the token endpoint once per token lifetime, not
   once per mailbox. In memory only; a few grants at a time. */

/* A second level beside this process's memory: the tokens other
   processes got (the job store's, shared by all workers). Each call may
   fail; the cache then goes on as if it had none. */
struct oauth2_token_shared {
	/* Returns 1 with the grant's token (data stack) good until
	   *expires_r (after now), 0 if there is none, -1 */
	int (*get)(struct event *event, const char *key, time_t now,
		   const char **token_r, time_t *expires_r, void *context);
	/* Before asking the endpoint: returns 1 if this process is to ask,
	   0 if another one asks right now */
	int (*claim)(struct event *event, const char *key, time_t now,
		     void *context);
	/* The token this process got (it asked: claim() said so) */
	void (*put)(struct event *event, const char *key, const char *token,
		    time_t expires, void *context);
	/* No token came, or the server refused it */
	void (*release)(struct event *event, const char *key, void *context);
	void *context;
};

/* The cache key of a grant: its endpoint, client, scope and a hash of its
   secret (a changed secret is another grant). */
const char *oauth2_token_cache_key(const char *token_url,
				   const char *client_id, const char *scope,
				   const char *client_secret);
/* The grant's token if it is still good at now (NULL if none): this
   process's, else the shared one */
const char *oauth2_token_cache_get(struct event *event, const char *key,
				   time_t now, time_t *expires_r);
/* Before asking the endpoint for the grant's token: if another process
   asks right now, wait (at most OAUTH2_TOKEN_CACHE_AWAIT_SECS) for its
   token and return it if it is good for more than margin_secs; NULL: ask
   (then put() or drop() must follow) */
#define OAUTH2_TOKEN_CACHE_AWAIT_SECS 20
const char *oauth2_token_cache_await(struct event *event, const char *key,
				     time_t now, time_t margin_secs,
				     time_t *expires_r);
/* Keep the grant's token until expires (0: not at all), here and shared */
void oauth2_token_cache_put(struct event *event, const char *key,
			    const char *access_token, time_t expires);
/* The server refused it, or none came: forget it, here and shared */
void oauth2_token_cache_drop(struct event *event, const char *key);
/* Use shared as the second level from now on (NULL: none) */
void oauth2_token_cache_set_shared(const struct oauth2_token_shared *shared);

#endif
