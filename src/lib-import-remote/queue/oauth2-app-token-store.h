#ifndef OAUTH2_APP_TOKEN_STORE_H
#define OAUTH2_APP_TOKEN_STORE_H

/* The app's own access tokens (client credentials) shared by every worker
   of the store, of every backend: a tenant's batch costs one token request
   per token lifetime, not one per worker process. In the job store's
   import_remote_oauth2_app_tokens, a row per grant (named by a hash of its
   cache key), the token encrypted with the store's key and bound to that
   name. A worker about to ask the endpoint marks the row for a while
   (fetching_until): the others wait for its token rather than ask too.
   Tokens that are a user's (refresh, JWT, device) are never shared. */

#include "secret-box.h"

struct job_store;

/* How long a worker may take to get a token before another one asks the
   endpoint itself */
#define OAUTH2_APP_TOKEN_FETCH_SECS 20

/* oauth2-token-cache.c consults this store from now on (NULL: none);
   guard (if not NULL) is called with enter TRUE before each use of the
   store and FALSE after it */
void oauth2_app_token_store_use(struct job_store *store,
				const unsigned char key[SECRET_BOX_KEY_LEN],
				void (*guard)(bool enter, void *context),
				void *guard_context);

#endif
