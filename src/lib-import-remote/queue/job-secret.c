/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "safe-memset.h"
#include "sql-api.h"
#include "job-store-private.h"
#include "job-secret.h"

/* Each part with its length: no value can pass for another's */
static const char *
job_secret_context(const char *username, const char *source_user,
		   const char *host, unsigned int port)
{
	return t_strdup_printf("import-remote job password;%zu:%s;%zu:%s;"
			       "%zu:%s;%u", strlen(username), username,
			       strlen(source_user), source_user,
			       strlen(host), host, port);
}

const char *job_secret_encrypt(const unsigned char key[SECRET_BOX_KEY_LEN],
			       const struct job *job, const char *password)
{
	return secret_box_encrypt(key, password, job_secret_context(
		job->username, job->source_user, job->source_host,
		job->source_port));
}

int job_secret_decrypt(const unsigned char key[SECRET_BOX_KEY_LEN],
		       const struct job *job, pool_t pool,
		       const char **password_r, const char **error_r)
{
	return secret_box_decrypt(key, job->source_password,
		job_secret_context(job->username, job->source_user,
				   job->source_host, job->source_port),
		pool, password_r, error_r);
}

int job_secret_upgrade(struct job_store *store,
		       const unsigned char key[SECRET_BOX_KEY_LEN],
		       const char **error_r)
{
	struct sql_result *result;
	struct sql_statement *stmt;
	ARRAY_TYPE(job) jobs;
	const struct job *job;
	const char *password, *error;
	int ret, count = 0;
	pool_t pool;

	/* read them all first: no UPDATE while the SELECT is open */
	pool = pool_alloconly_create("job secrets", 1024);
	p_array_init(&jobs, pool, 8);
	result = sql_query_s(store->db, "SELECT id, username, source_user, "
		"source_host, source_port, source_password "
		"FROM import_remote_jobs WHERE source_password LIKE 'v1:%'");
	while ((ret = sql_result_next_row(result)) > 0) {
		struct job *new_job = array_append_space(&jobs);

		new_job->id = result_num(result, 0);
		new_job->username = result_str(result, pool, 1);
		new_job->source_user = result_str(result, pool, 2);
		new_job->source_host = result_str(result, pool, 3);
		new_job->source_port = result_num(result, 4);
		new_job->source_password = result_str(result, pool, 5);
	}
	if (ret < 0)
		*error_r = t_strdup(sql_result_get_error(result));
	sql_result_unref(result);

	array_foreach(&jobs, job) {
		if (ret < 0)
			break;
		if (secret_box_decrypt_v1(key, job->source_password, pool,
					  &password, &error) < 0) {
			/* the job fails when it runs, saying why */
			continue;
		}
		stmt = sql_statement_init(store->db,
			"UPDATE import_remote_jobs SET source_password = ? "
			"WHERE id = ? AND source_password = ?");
		sql_statement_bind_str(stmt, 0,
			job_secret_encrypt(key, job, password));
		sql_statement_bind_int64(stmt, 1, job->id);
		sql_statement_bind_str(stmt, 2, job->source_password);
		safe_memset((char *)password, 0, strlen(password));
		if (job_store_update_rows(store, stmt, error_r) < 0)
			ret = -1;
		else
			count++;
	}
	pool_unref(&pool);
	return ret < 0 ? -1 : count;
}
