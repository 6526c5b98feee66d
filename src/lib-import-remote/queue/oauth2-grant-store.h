#ifndef OAUTH2_GRANT_STORE_H
#define OAUTH2_GRANT_STORE_H

/* The refresh tokens that `doveadm import-remote authorize` (the device
   authorization grant) got for a user's imports, one per user: in the job
   store's import_remote_oauth2_grants, encrypted with the store's key
   (secret-box), bound to the user, the token URL and the client id. */

#include "secret-box.h"

struct job_store;

struct oauth2_grant {
	const char *username;
	const char *token_url;
	const char *client_id;
	/* NULL for a public client */
	const char *client_secret;
	const char *scope;
	const char *refresh_token;
	/* the account at the provider the grant is for (the IMAP login
	   name with its tokens), NULL if not said */
	const char *source_user;
};

/* Keep (replace) the user's grant. */
int oauth2_grant_store_set(struct job_store *store,
			   const unsigned char key[SECRET_BOX_KEY_LEN],
			   const struct oauth2_grant *grant,
			   const char **error_r);
/* Returns 1 with grant_r (from pool; wipe its secrets), 0 if the user has
   none, -1 with error_r (a store error, or a value that does not decrypt:
   never its content). */
int oauth2_grant_store_get(struct job_store *store,
			   const unsigned char key[SECRET_BOX_KEY_LEN],
			   const char *username, pool_t pool,
			   struct oauth2_grant *grant_r,
			   const char **error_r);

#endif
