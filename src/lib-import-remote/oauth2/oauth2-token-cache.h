#ifndef OAUTH2_TOKEN_CACHE_H
#define OAUTH2_TOKEN_CACHE_H

/* Access tokens of a grant that is no user's (client credentials: the app
   itself), shared by the imports one process runs: a worker going through
   a tenant's batch asks the token endpoint once per token lifetime, not
   once per mailbox. In memory only; a few grants at a time. */

/* The cache key of a grant: its endpoint, client, scope and a hash of its
   secret (a changed secret is another grant). */
const char *oauth2_token_cache_key(const char *token_url,
				   const char *client_id, const char *scope,
				   const char *client_secret);
/* The grant's token if it is still good at now (NULL if none) */
const char *oauth2_token_cache_get(const char *key, time_t now,
				   time_t *expires_r);
/* Keep the grant's token until expires (0: not at all). */
void oauth2_token_cache_put(const char *key, const char *access_token,
			    time_t expires);
/* The server refused it: forget it. */
void oauth2_token_cache_drop(const char *key);

#endif
