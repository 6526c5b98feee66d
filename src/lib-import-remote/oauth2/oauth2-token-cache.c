/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "hex-binary.h"
#include "sha2.h"
#include "safe-memset.h"
#include "sleep.h"

#include <time.h>
#include "oauth2-token-cache.h"

#define OAUTH2_TOKEN_CACHE_SIZE 8

struct oauth2_token_cache_entry {
	char *key, *token;
	time_t expires;
};

/* Never freed at exit (still reachable from here): a lib_atexit()
   callback would run after doveadm has unloaded this plugin. */
static struct oauth2_token_cache_entry cache[OAUTH2_TOKEN_CACHE_SIZE];
static const struct oauth2_token_shared *cache_shared = NULL;
/* how often a waiting process looks for the other one's token */
#define OAUTH2_TOKEN_CACHE_AWAIT_POLL_MSECS 200

static void cache_entry_free(struct oauth2_token_cache_entry *entry)
{
	if (entry->token != NULL)
		safe_memset(entry->token, 0, strlen(entry->token));
	i_free(entry->token);
	i_free(entry->key);
	entry->expires = 0;
}

const char *oauth2_token_cache_key(const char *token_url,
				   const char *client_id, const char *scope,
				   const char *client_secret)
{
	unsigned char digest[SHA256_RESULTLEN];

	sha256_get_digest(client_secret == NULL ? "" : client_secret,
			  client_secret == NULL ? 0 : strlen(client_secret),
			  digest);
	return t_strdup_printf("%s\t%s\t%s\t%s", token_url,
			       client_id == NULL ? "" : client_id,
			       scope == NULL ? "" : scope,
			       binary_to_hex(digest, sizeof(digest)));
}

static struct oauth2_token_cache_entry *cache_find(const char *key)
{
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(cache); i++) {
		if (cache[i].key != NULL && strcmp(cache[i].key, key) == 0)
			return &cache[i];
	}
	return NULL;
}

/* Keep the token here (expires > 0); returns its entry */
static struct oauth2_token_cache_entry *
cache_put_local(const char *key, const char *access_token, time_t expires)
{
	struct oauth2_token_cache_entry *entry = cache_find(key);
	unsigned int i;

	if (entry == NULL) {
		/* a free place, or the one that ends first */
		entry = &cache[0];
		for (i = 0; i < N_ELEMENTS(cache); i++) {
			if (cache[i].key == NULL) {
				entry = &cache[i];
				break;
			}
			if (cache[i].expires < entry->expires)
				entry = &cache[i];
		}
	}
	cache_entry_free(entry);
	entry->key = i_strdup(key);
	entry->token = i_strdup(access_token);
	entry->expires = expires;
	return entry;
}

const char *oauth2_token_cache_get(struct event *event, const char *key,
				   time_t now, time_t *expires_r)
{
	struct oauth2_token_cache_entry *entry = cache_find(key);
	const char *token;
	time_t expires;

	if (entry != NULL && entry->expires > now) {
		*expires_r = entry->expires;
		return entry->token;
	}
	if (cache_shared == NULL ||
	    cache_shared->get(event, key, now, &token, &expires,
			      cache_shared->context) <= 0)
		return NULL;
	entry = cache_put_local(key, token, expires);
	safe_memset((char *)token, 0, strlen(token));
	*expires_r = entry->expires;
	return entry->token;
}

const char *oauth2_token_cache_await(struct event *event, const char *key,
				     time_t now, time_t margin_secs,
				     time_t *expires_r)
{
	const char *token;
	time_t expires, start = now;

	if (cache_shared == NULL ||
	    cache_shared->claim(event, key, now, cache_shared->context) != 0)
		return NULL;
	e_debug(event, "OAuth2: another worker is getting the app's "
		"access token: waiting for it");
	while (now < start + OAUTH2_TOKEN_CACHE_AWAIT_SECS) {
		i_sleep_msecs(OAUTH2_TOKEN_CACHE_AWAIT_POLL_MSECS);
		now = time(NULL);
		token = oauth2_token_cache_get(event, key, now, &expires);
		if (token != NULL && now + margin_secs < expires) {
			*expires_r = expires;
			return token;
		}
	}
	return NULL;
}

void oauth2_token_cache_put(struct event *event, const char *key,
			    const char *access_token, time_t expires)
{
	if (expires == 0) {
		oauth2_token_cache_drop(event, key);
		return;
	}
	(void)cache_put_local(key, access_token, expires);
	if (cache_shared != NULL) {
		cache_shared->put(event, key, access_token, expires,
				  cache_shared->context);
	}
}

void oauth2_token_cache_drop(struct event *event, const char *key)
{
	struct oauth2_token_cache_entry *entry = cache_find(key);

	if (entry != NULL)
		cache_entry_free(entry);
	if (cache_shared != NULL)
		cache_shared->release(event, key, cache_shared->context);
}

void oauth2_token_cache_set_shared(const struct oauth2_token_shared *shared)
{
	cache_shared = shared;
}
