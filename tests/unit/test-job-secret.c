/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "test-common.h"
#include "job-store.h"
#include "job-secret.h"

#include <stdio.h>
#include <unistd.h>

/* "hunter2" as a version before 0.2 stored it: AES-256-GCM under the key
   00 01 .. 1f, IV 40 .. 4b, no associated data */
#define V1_HUNTER2 "v1:QEFCQ0RFRkdISUpLiszAV0NOtSwp3j9ymmoClvjWyU41szI="

static const char *test_dir;

static unsigned long long
add_job(struct job_store *store, const char *user, const char *host,
	const char *password)
{
	struct job job;
	unsigned long long id;
	const char *error;

	i_zero(&job);
	job.username = user;
	job.source_host = host;
	job.source_port = 993;
	job.source_ssl = "imaps";
	job.source_user = "alice@example.org";
	job.options = "";
	job.source_password = password;
	if (job_store_create(store, &job, &id, &error) < 0)
		i_fatal("job_store_create() failed: %s", error);
	return id;
}

static void test_job_secret(void)
{
	unsigned char key[SECRET_BOX_KEY_LEN];
	struct job_store *store;
	struct job job, other;
	unsigned long long id1, id3;
	const char *error, *password;
	unsigned int i;
	pool_t pool = pool_alloconly_create("job secret", 1024);

	test_begin("job secret: bound to its job; v1 values never used");
	for (i = 0; i < SECRET_BOX_KEY_LEN; i++)
		key[i] = i;
	if (job_store_open("sqlite", t_strconcat(test_dir, "/jobs.db", NULL),
			   NULL, &store, &error) < 0)
		i_fatal("job_store_open() failed: %s", error);

	/* a password of the old format: it decrypts with the key, but
	   nothing says which job it was stored for */
	id1 = add_job(store, "u1", "imap.example.org", V1_HUNTER2);
	test_assert(job_store_get(store, pool, id1, &job, &error) > 0);
	test_assert(job_secret_decrypt(key, &job, pool, &password, &error) < 0);
	test_assert(strstr(error, "before 0.2") != NULL);
	test_assert(strstr(error, "hunter2") == NULL);

	i_zero(&job);
	job.username = "u3";
	job.source_user = "alice@example.org";
	job.source_host = "imap.example.org";
	job.source_port = 993;
	job.source_ssl = "imaps";
	job.options = "";
	id3 = add_job(store, "u3", "imap.example.org",
		      job_secret_encrypt(key, &job, "s3cret"));

	/* copied into another job, to a host of the copier's: no password */
	test_assert(job_store_get(store, pool, id3, &other, &error) > 0);
	test_assert(job_secret_decrypt(key, &other, pool, &password, &error) == 0);
	test_assert_strcmp(password, "s3cret");
	other.source_host = "evil.example.net";
	test_assert(job_secret_decrypt(key, &other, pool, &password, &error) < 0);
	test_assert(strstr(error, "Queue the import again") != NULL);
	other.source_host = "imap.example.org";
	other.username = "u1";
	test_assert(job_secret_decrypt(key, &other, pool, &password, &error) < 0);
	other.username = "u3";
	other.source_port = 143;
	test_assert(job_secret_decrypt(key, &other, pool, &password, &error) < 0);
	other.source_port = 993;
	other.source_user = "Alice@example.org";
	test_assert(job_secret_decrypt(key, &other, pool, &password, &error) < 0);
	other.source_user = "alice@example.org";
	/* the connection's security and TLS options are bound too */
	other.source_ssl = "starttls";
	test_assert(job_secret_decrypt(key, &other, pool, &password, &error) < 0);
	other.source_ssl = "none";
	test_assert(job_secret_decrypt(key, &other, pool, &password, &error) < 0);
	/* ... "ssl" and "tls" are names of imaps */
	other.source_ssl = "ssl";
	test_assert(job_secret_decrypt(key, &other, pool, &password, &error) == 0);
	other.source_ssl = "imaps";
	other.options = "tls_insecure=1";
	test_assert(job_secret_decrypt(key, &other, pool, &password, &error) < 0);
	other.options = "";
	test_assert(job_secret_decrypt(key, &other, pool, &password, &error) == 0);

	job_store_close(&store);
	pool_unref(&pool);
	test_end();
}

/* What versions 0.2 up to now bound: account, host and port */
static const char *
v2_encrypt(const unsigned char *key, const struct job *job,
	   const char *password)
{
	return secret_box_encrypt(key, password, t_strdup_printf(
		"import-remote job password;%zu:%s;%zu:%s;%zu:%s;%u",
		strlen(job->username), job->username,
		strlen(job->source_user), job->source_user,
		strlen(job->source_host), job->source_host, job->source_port));
}

static void test_job_secret_v2(void)
{
	unsigned char key[SECRET_BOX_KEY_LEN];
	struct job job;
	const char *error, *password;
	unsigned int i;
	pool_t pool = pool_alloconly_create("job secret v2", 1024);

	test_begin("job secret: v2 values only over verified TLS");
	for (i = 0; i < SECRET_BOX_KEY_LEN; i++)
		key[i] = 0xff - i;
	i_zero(&job);
	job.username = "u";
	job.source_user = "alice";
	job.source_host = "imap.example.org";
	job.source_port = 993;
	job.source_ssl = "imaps";
	job.options = "dedup=account\tmirror=1";
	job.source_password = v2_encrypt(key, &job, "old");
	test_assert(job_secret_decrypt(key, &job, pool, &password, &error) == 0);
	test_assert_strcmp(password, "old");
	job.source_ssl = "starttls";
	job.source_port = 143;
	test_assert(job_secret_decrypt(key, &job, pool, &password, &error) < 0);
	job.source_password = v2_encrypt(key, &job, "old");
	test_assert(job_secret_decrypt(key, &job, pool, &password, &error) == 0);
	/* a row that may have been changed after the password was stored */
	job.options = "dedup=account\ttls_insecure=1";
	test_assert(job_secret_decrypt(key, &job, pool, &password, &error) < 0);
	job.options = "";
	job.source_ssl = "none";
	test_assert(job_secret_decrypt(key, &job, pool, &password, &error) < 0);
	job.source_ssl = "imaps";
	job.options = "no-such-option=1";
	test_assert(job_secret_decrypt(key, &job, pool, &password, &error) < 0);
	pool_unref(&pool);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_job_secret,
		test_job_secret_v2,
		NULL
	};
	char dir[] = "/tmp/test-job-secret.XXXXXX";
	char db[sizeof(dir) + 16];
	int ret;

	if (mkdtemp(dir) == NULL)
		return 1;
	test_dir = dir;
	(void)snprintf(db, sizeof(db), "%s/jobs.db", dir);
	ret = test_run(test_functions);
	(void)unlink(db);
	(void)rmdir(dir);
	return ret;
}
