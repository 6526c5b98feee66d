/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "job-store.h"
#include "job-secret.h"
#include "import-remote-settings.h"

/* Each part with its length: no value can pass for another's. v3 binds
   everything that decides where and how the password travels: the
   account it is for (the destination user, the source user), the host
   and port, the connection's security (ssl mode) and the job's options,
   which hold the TLS ones (tls_insecure) - so that a store writer who
   points the job elsewhere, or turns certificate checks off, gets a job
   whose password no longer decrypts. (The CA and the login mechanism are
   not the row's: they come from the configuration and the server.) */
static const char *
job_secret_context(const struct job *job)
{
	const char *ssl = job->source_ssl == NULL ? "" : job->source_ssl;
	const char *options = job->options == NULL ? "" : job->options;
	enum import_remote_ssl ssl_mode;

	/* imaps, ssl and tls are the same mode */
	if (import_remote_ssl_parse(ssl, &ssl_mode) == 0)
		ssl = import_remote_ssl_name(ssl_mode);
	return t_strdup_printf("import-remote job password v3;%zu:%s;%zu:%s;"
			       "%zu:%s;%u;%zu:%s;%zu:%s",
			       strlen(job->username), job->username,
			       strlen(job->source_user), job->source_user,
			       strlen(job->source_host), job->source_host,
			       job->source_port, strlen(ssl), ssl,
			       strlen(options), options);
}

/* What versions 0.2 to this one bound: the account, host and port only */
static const char *
job_secret_context_v2(const struct job *job)
{
	return t_strdup_printf("import-remote job password;%zu:%s;%zu:%s;"
			       "%zu:%s;%u", strlen(job->username), job->username,
			       strlen(job->source_user), job->source_user,
			       strlen(job->source_host), job->source_host,
			       job->source_port);
}

/* A password bound the v2 way is used only where its AAD already decides
   everything: a verified TLS connection (imaps or starttls, certificate
   checked) to the host and port it was bound to. A row that says
   --ssl none or tls_insecure may have been changed after the password was
   stored: that password is not sent. */
static bool job_secret_v2_usable(const struct job *job, pool_t pool)
{
	struct import_remote_settings set;
	const char *error;

	import_remote_settings_init(pool, &set);
	if (import_remote_ssl_parse(job->source_ssl, &set.ssl) < 0 ||
	    set.ssl == IMPORT_REMOTE_SSL_NONE)
		return FALSE;
	if (import_remote_settings_import(pool, job->options == NULL ? "" :
					  job->options, &set, &error) < 0)
		return FALSE;
	return !set.tls_insecure;
}

const char *job_secret_encrypt(const unsigned char key[SECRET_BOX_KEY_LEN],
			       const struct job *job, const char *password)
{
	return secret_box_encrypt(key, password, job_secret_context(job));
}

int job_secret_decrypt(const unsigned char key[SECRET_BOX_KEY_LEN],
		       const struct job *job, pool_t pool,
		       const char **password_r, const char **error_r)
{
	const char *error;

	if (secret_box_is_v1(job->source_password)) {
		/* no associated data: nothing says which job it was
		   stored for, so it may have been moved into this one */
		*error_r = "The password was stored by a version before 0.2, "
			"which did not bind it to its job: it is not used. "
			"Queue the import again with the password";
		return -1;
	}
	if (secret_box_decrypt(key, job->source_password,
			       job_secret_context(job), pool,
			       password_r, &error) == 0)
		return 0;
	if (job_secret_v2_usable(job, pool) &&
	    secret_box_decrypt(key, job->source_password,
			       job_secret_context_v2(job), pool,
			       password_r, &error) == 0)
		return 0;
	*error_r = t_strdup_printf("%s. The job's host, port, security, TLS "
		"options or account are not what the password was stored "
		"with (or the key file is not the one it was stored with): "
		"it is not sent. Queue the import again with the password",
		error);
	return -1;
}
