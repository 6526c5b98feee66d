/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* Bulk imports: batch create | status | list | pause | resume | cancel |
   retry-failed. Admin commands: no -u; the job store and the password key
   come from the global settings. */

#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "istream.h"
#include "ioloop.h"
#include "safe-memset.h"
#include "time-util.h"
#include "str-sanitize.h"
#include "smtp-address.h"
#include "doveadm.h"
#include "doveadm-cmd.h"
#include "doveadm-print.h"
#include "mail-storage-service.h"
#include "import-remote-compat.h"
#include "import-remote-error.h"
#include "import-remote-settings.h"
#include "secret-box.h"
#include "job-secret.h"
#include "batch-csv.h"
#include "batch-store.h"
#include "notify-outbox.h"
#include "import-remote-config.h"
#include "doveadm-import-remote-compat.h"
#include "import-remote-event.h"
#include "doveadm-import-remote.h"

#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>

/* --- create --- */


/* Append to a buffer that holds passwords: when it must grow, the old
   copy is wiped before it is freed */
static void batch_csv_append(buffer_t **_buf, const void *data, size_t size)
{
	buffer_t *buf = *_buf, *bigger;

	if (buf->used + size + 1 > buffer_get_size(buf)) {
		bigger = buffer_create_dynamic(default_pool,
			I_MAX(buffer_get_size(buf) * 2, buf->used + size + 1));
		buffer_append_buf(bigger, buf, 0, SIZE_MAX);
		safe_memset(buffer_get_modifiable_data(buf, NULL), 0,
			    buf->used);
		buffer_free(&buf);
		*_buf = buf = bigger;
	}
	buffer_append(buf, data, size);
}

/* Read the whole CSV (it is small: a line per mailbox). --csv is a stream
   parameter: on the command line doveadm opens the file named, with the
   rights of whoever runs doveadm; over doveadm's HTTP API the caller sends
   the content, so no caller can make the server read a file of its own.
   Returns NULL on errors (logged, exit code set). */
static buffer_t *batch_read_csv(struct istream *input)
{
	const char *name = i_stream_get_name(input);
	const unsigned char *data;
	buffer_t *buf;
	uoff_t size;
	size_t n;

	/* sized so that it doesn't grow if the size is known: no stray
	   copies of passwords */
	if (i_stream_get_size(input, TRUE, &size) <= 0)
		size = 64 * 1024;
	buf = buffer_create_dynamic(default_pool,
		I_MIN(size, BATCH_CSV_MAX_SIZE) + 1);
	/* over the HTTP API doveadm has already read it to its end */
	i_stream_seek(input, 0);
	while (i_stream_read_more(input, &data, &n) > 0) {
		if (buf->used + n > BATCH_CSV_MAX_SIZE) {
			(void)doveadm_import_remote_fail(&doveadm_exit_code,
				EX_DATAERR, "%s: larger than %u MB: split it "
				"into several batches", name,
				BATCH_CSV_MAX_SIZE / (1024*1024));
			break;
		}
		batch_csv_append(&buf, data, n);
		/* the stream's own copy goes too */
		safe_memset((void *)data, 0, n);
		i_stream_skip(input, n);
	}
	if (input->stream_errno != 0) {
		(void)doveadm_import_remote_fail(&doveadm_exit_code,
			input->stream_errno == ENOENT ||
			input->stream_errno == EACCES ? EX_NOINPUT : EX_IOERR,
			"--csv: %s", i_stream_get_error(input));
	}
	if (doveadm_exit_code != 0) {
		safe_memset(buffer_get_modifiable_data(buf, NULL), 0,
			    buf->used);
		buffer_free(&buf);
	}
	return buf;
}

/* --remove-csv: the file read, if it is still the one at its name. Only
   on the command line: over doveadm's HTTP API there is no file. */
static void batch_remove_csv(struct istream *input)
{
	const char *path = i_stream_get_name(input);
	const struct stat *st;
	struct stat path_st;

	if (i_stream_stat(input, TRUE, &st) < 0 || !S_ISREG(st->st_mode) ||
	    lstat(path, &path_st) < 0 || path_st.st_dev != st->st_dev ||
	    path_st.st_ino != st->st_ino) {
		e_error(import_remote_event(),
			"--remove-csv: %s is not the file "
			"that was read; not removed", path);
		return;
	}
	if (unlink(path) < 0)
		e_error(import_remote_event(), "unlink(%s) failed: %m", path);
}

static int batch_parse_size(const char *str, unsigned long long *bytes_r)
{
	uoff_t bytes;
	const char *error;

	if (import_remote_compat_parse_size(str, &bytes, &error) < 0 ||
	    bytes == 0) {
		return doveadm_import_remote_fail(&doveadm_exit_code, EX_USAGE,
			"Invalid --storage-limit '%s': use a size such as "
			"500M, 50G or 2T", str_sanitize(str, 64));
	}
	*bytes_r = bytes;
	return 0;
}

/* It becomes an SMTP recipient: one plain address, as the SMTP client
   will parse it */
static int batch_check_notify(const char *addr)
{
	const char *error;

	if (strlen(addr) > 254 ||
	    smtp_address_parse_mailbox(pool_datastack_create(), addr, 0,
				       NULL, &error) < 0 ||
	    strchr(addr, '@') == NULL) {
		return doveadm_import_remote_fail(&doveadm_exit_code, EX_USAGE,
			"Invalid --notify '%s': give one email address",
			str_sanitize(addr, 64));
	}
	return 0;
}

/* --notify with no way to send email: said now, not only in the worker's
   log when the first notification fails */
static void batch_warn_notify(struct doveadm_cmd_context *cctx,
			      unsigned long long batch_id)
{
	const struct import_remote_config *set;
	const char *error;

	if (doveadm_import_remote_global_config(cctx, &set, &error) < 0)
		return;
	if (notify_outbox_email_check(set->import_remote_submission_host,
				      set->import_remote_sendmail_path,
				      &error) < 0) {
		e_warning(import_remote_event(),
			"Batch %llu: the emails to --notify "
			  "can't be sent: %s", batch_id, error);
	}
	import_remote_config_free(&set);
}

/* Every destination user must exist (those that don't are errors, counted
   in *more_errors once the list is full). Returns -1 if the user database
   couldn't be asked. */
static int batch_check_users(pool_t pool, const ARRAY_TYPE(batch_csv_row) *rows,
			     ARRAY_TYPE(batch_csv_error) *errors,
			     unsigned int *more_errors)
{
	struct mail_storage_service_ctx *storage_service;
	struct mail_storage_service_input input;
	const struct batch_csv_row *row;
	const char *error;
	int ret = 0;

	storage_service = import_remote_compat_storage_service_init(
		MAIL_STORAGE_SERVICE_FLAG_USERDB_LOOKUP |
		MAIL_STORAGE_SERVICE_FLAG_NO_CHDIR |
		MAIL_STORAGE_SERVICE_FLAG_NO_LOG_INIT |
		MAIL_STORAGE_SERVICE_FLAG_NO_PLUGINS |
		MAIL_STORAGE_SERVICE_FLAG_NO_NAMESPACES |
		MAIL_STORAGE_SERVICE_FLAG_NO_RESTRICT_ACCESS);
	i_zero(&input);
	input.service = "doveadm";
	array_foreach(rows, row) {
		input.username = row->dest_user;
		switch (import_remote_compat_user_exists(storage_service,
							 &input, &error)) {
		case -1:
			e_error(import_remote_event(),
				"Looking up user %s failed: %s",
				row->dest_user, error);
			ret = -1;
			break;
		case 0:
			if (!batch_csv_add_row_error(pool, errors, row,
				BATCH_CSV_DESTINATION_USER, t_strdup_printf(
				"unknown destination user '%s'",
				str_sanitize(row->dest_user, 64))))
				(*more_errors)++;
			break;
		default:
			break;
		}
		if (ret < 0)
			break;
	}
	mail_storage_service_deinit(&storage_service);
	return ret;
}

static void batch_wipe_passwords(ARRAY_TYPE(batch_csv_row) *rows)
{
	const struct batch_csv_row *row;

	array_foreach(rows, row) {
		safe_memset((char *)row->source_password, 0,
			    strlen(row->source_password));
	}
}

/* What create (or --dry-run) says about the file: a row per problem, or
   with --dry-run a row per job it would queue. One set of columns for
   both, so that a program reads either the same way. */
static void batch_print_check_header(void)
{
	doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
	doveadm_print_header_simple("result");
	doveadm_import_remote_header_num("line");
	doveadm_print_header_simple("column");
	doveadm_print_header_simple("field");
	doveadm_print_header_simple("destination");
	doveadm_print_header_simple("source");
	doveadm_print_header_simple("error");
}

/* the problems found, and "... and N more" for those only counted */
static void batch_print_errors(const ARRAY_TYPE(batch_csv_error) *errors,
			       unsigned int more_errors)
{
	const struct batch_csv_error *error;

	batch_print_check_header();
	array_foreach(errors, error) {
		doveadm_print("error");
		doveadm_print_num(error->line);
		doveadm_print(error->column == 0 ? "" : dec2str(error->column));
		doveadm_print(error->field == NULL ? "" : error->field);
		doveadm_print("");
		doveadm_print("");
		doveadm_print(batch_csv_error_str(error));
	}
	if (more_errors > 0) {
		doveadm_print("error");
		doveadm_print_num(0);
		doveadm_print("");
		doveadm_print("");
		doveadm_print("");
		doveadm_print("");
		doveadm_print(t_strdup_printf("... and %u more", more_errors));
	}
}

/* The port a row's import connects to (0 in the row: by its security) */
static in_port_t batch_row_port(const struct batch_csv_row *row)
{
	struct import_remote_settings row_set;

	i_zero(&row_set);
	row_set.port = row->port;
	row_set.ssl = row->ssl;
	return import_remote_settings_get_port(&row_set);
}

static void batch_print_plan(const ARRAY_TYPE(batch_csv_row) *rows)
{
	const struct batch_csv_row *row;

	batch_print_check_header();
	array_foreach(rows, row) {
		doveadm_print("ok");
		doveadm_print_num(row->line);
		doveadm_print("");
		doveadm_print("");
		doveadm_import_remote_print_text(row->dest_user);
		doveadm_import_remote_print_text(t_strdup_printf("%s@%s:%u/%s", row->source_user,
			row->host, batch_row_port(row),
			import_remote_ssl_name(row->ssl)));
		doveadm_print("");
	}
}

static void cmd_batch_create(struct doveadm_cmd_context *cctx)
{
	struct import_remote_settings set, check_set;
	struct batch_csv_defaults defaults;
	ARRAY_TYPE(batch_csv_row) rows;
	ARRAY_TYPE(batch_csv_error) errors;
	ARRAY_TYPE(job) jobs;
	const struct job *queued;
	const struct batch_csv_row *row;
	unsigned char key[SECRET_BOX_KEY_LEN];
	struct job_store *store;
	struct batch batch;
	struct job job;
	unsigned long long batch_id;
	const char *str, *error, *options, *shared_secret;
	struct istream *input;
	buffer_t *csv;
	bool dry_run = FALSE, remove_csv = FALSE;
	unsigned int more_errors = 0;
	pool_t pool;
	int ret;

	(void)doveadm_cmd_param_bool(cctx, "dry-run", &dry_run);
	(void)doveadm_cmd_param_bool(cctx, "remove-csv", &remove_csv);
	if (!doveadm_cmd_param_istream(cctx, "csv", &input)) {
		(void)doveadm_import_remote_fail(&doveadm_exit_code, EX_USAGE,
						 "Missing --csv <file>");
		return;
	}
	if (remove_csv && cctx->conn_type != DOVEADM_CONNECTION_TYPE_CLI) {
		(void)doveadm_import_remote_fail(&doveadm_exit_code, EX_USAGE,
			"--remove-csv works on the command line only "
			"(there is no file here)");
		return;
	}
	pool = pool_alloconly_create("batch create", 16384);
	i_zero(&batch);
	if (doveadm_import_remote_read_job_options(cctx, pool, &set,
						   &doveadm_exit_code) < 0 ||
	    doveadm_import_remote_read_shared_grant(cctx, pool, &set,
						    &doveadm_exit_code) < 0) {
		pool_unref(&pool);
		return;
	}
	/* the options every row shares must be consistent on their own */
	check_set = set;
	if (check_set.host == NULL)
		check_set.host = "host";
	check_set.username = check_set.password = "x";
	if (import_remote_settings_check(&check_set, &error) < 0) {
		(void)doveadm_import_remote_fail(&doveadm_exit_code, EX_USAGE,
						 "%s", error);
	} else if (doveadm_cmd_param_str(cctx, "notify", &str) &&
		   batch_check_notify(str) == 0)
		batch.notify = p_strdup(pool, str);
	if (doveadm_exit_code == 0 &&
	    doveadm_cmd_param_str(cctx, "storage-limit", &str))
		(void)batch_parse_size(str, &batch.storage_limit);
	if (doveadm_exit_code != 0) {
		pool_unref(&pool);
		return;
	}

	i_zero(&defaults);
	defaults.host = set.host;
	defaults.port = set.port;
	defaults.ssl = set.ssl;
	defaults.shared_grant =
		set.oauth2_grant != IMPORT_REMOTE_OAUTH2_GRANT_NONE;
	csv = batch_read_csv(input);
	if (csv == NULL) {
		pool_unref(&pool);
		return;
	}
	p_array_init(&rows, pool, 64);
	p_array_init(&errors, pool, 8);
	(void)batch_csv_parse(csv->data, csv->used, pool, &defaults,
			      &rows, &errors, &more_errors);
	safe_memset(buffer_get_modifiable_data(csv, NULL), 0, csv->used);
	buffer_free(&csv);
	if (batch_check_users(pool, &rows, &errors, &more_errors) < 0) {
		batch_wipe_passwords(&rows);
		doveadm_exit_code = EX_TEMPFAIL;
		pool_unref(&pool);
		return;
	}
	if (array_count(&errors) > 0) {
		batch_wipe_passwords(&rows);
		/* the users looked up after parsing, in their lines' places */
		batch_csv_errors_sort(&errors);
		batch_print_errors(&errors, more_errors);
		/* a dry run's answer is its rows (the doveadm HTTP API
		   returns no rows with a failure) */
		if (!dry_run) {
			unsigned int count = array_count(&errors) + more_errors;

			e_error(import_remote_event(),
				"%s: %u error%s; nothing was "
				"queued", str_sanitize(i_stream_get_name(input), 128),
				count, count == 1 ? "" : "s");
			doveadm_exit_code = EX_DATAERR;
		}
		pool_unref(&pool);
		return;
	}
	if (dry_run) {
		batch_print_plan(&rows);
		batch_wipe_passwords(&rows);
		pool_unref(&pool);
		return;
	}

	if (doveadm_import_remote_store_open(cctx, NULL, &store, key,
					     &doveadm_exit_code) < 0) {
		batch_wipe_passwords(&rows);
		pool_unref(&pool);
		return;
	}
	options = import_remote_settings_export(&set);
	/* one grant for every row: its secrets in each job, encrypted for
	   that job */
	shared_secret = !defaults.shared_grant ? NULL :
		import_remote_settings_export_secret(&set);
	p_array_init(&jobs, pool, array_count(&rows));
	array_foreach(&rows, row) {
		i_zero(&job);
		job.username = row->dest_user;
		job.source_host = row->host;
		job.source_ssl = import_remote_ssl_name(row->ssl);
		job.source_port = batch_row_port(row);
		job.source_user = row->source_user;
		job.options = options;
		job.connections = set.connections;
		job.source_password = p_strdup(pool,
			job_secret_encrypt(key, &job, shared_secret != NULL ?
					   shared_secret :
					   row->source_password));
		array_push_back(&jobs, &job);
	}
	safe_memset(key, 0, sizeof(key));
	if (shared_secret != NULL)
		safe_memset((char *)shared_secret, 0, strlen(shared_secret));
	batch_wipe_passwords(&rows);
	ret = batch_store_create(store, &batch, &jobs, &batch_id, &error);
	job_store_close(&store);
	if (ret < 0) {
		e_error(import_remote_event(),
			"Queueing the batch failed: %s", error);
		doveadm_exit_code = EX_TEMPFAIL;
		pool_unref(&pool);
		return;
	}
	array_foreach(&jobs, queued) {
		e_debug(import_remote_event_job_queued(import_remote_event(),
				"batch", 0, batch_id, queued->username,
				queued->source_host, queued->source_port,
				queued->source_user)->event(),
			"Batch %llu: a job of %s queued", batch_id,
			str_sanitize(queued->username, 255));
	}
	/* the passwords are in the store now, encrypted: the plain text
	   copy can go */
	if (remove_csv)
		batch_remove_csv(input);
	if (batch.notify != NULL)
		batch_warn_notify(cctx, batch_id);
	doveadm_print_init(DOVEADM_PRINT_TYPE_FLOW);
	doveadm_print_header_simple("batch");
	doveadm_print_header_simple("status");
	doveadm_import_remote_header_num("jobs");
	doveadm_print(dec2str(batch_id));
	doveadm_print(batch_status_name(BATCH_STATUS_IN_PROGRESS));
	doveadm_print_num(array_count(&jobs));
	pool_unref(&pool);
}

/* --- the commands that act on one batch --- */

/* Open the store and read the batch. Returns 1, or 0 on failure (logged,
   exit code set). */
static int batch_cmd_open(struct doveadm_cmd_context *cctx, pool_t pool,
			  struct job_store **store_r, struct batch *batch_r)
{
	int64_t batch_id;
	const char *error;
	int ret;

	if (!doveadm_cmd_param_int64(cctx, "batch", &batch_id) ||
	    batch_id <= 0) {
		(void)doveadm_import_remote_fail(&doveadm_exit_code, EX_USAGE,
			"Which batch? (import-remote %s <batch>)",
			cctx->cmd->name + strlen("import-remote "));
		return 0;
	}
	if (doveadm_import_remote_store_open(cctx, NULL, store_r, NULL,
					     &doveadm_exit_code) < 0)
		return 0;
	ret = batch_store_get(*store_r, pool, batch_id, batch_r, &error);
	if (ret > 0)
		return 1;
	if (ret == 0) {
		e_error(import_remote_event(), "No batch %"PRId64, batch_id);
		doveadm_exit_code = DOVEADM_EX_NOTFOUND;
	} else {
		e_error(import_remote_event(), "%s", error);
		doveadm_exit_code = EX_TEMPFAIL;
	}
	job_store_close(store_r);
	return 0;
}

static void batch_print_header(const char *print_type)
{
	doveadm_print_init(print_type);
	doveadm_print_header_simple("batch");
	doveadm_print_header_simple("status");
	doveadm_print_header_simple("status_title");
	doveadm_print_header_simple("pause_reason");
	doveadm_import_remote_header_num("jobs");
	doveadm_import_remote_header_num("queued");
	doveadm_import_remote_header_num("running");
	doveadm_import_remote_header_num("completed");
	doveadm_import_remote_header_num("failed");
	doveadm_import_remote_header_num("cancelled");
	doveadm_import_remote_header_num("storage_used");
	doveadm_import_remote_header_num("storage_limit");
	doveadm_print_header_simple("notify");
	/* the notifications of its events: delivered, waiting (or being
	   retried), given up */
	doveadm_import_remote_header_num("notifications_sent");
	doveadm_import_remote_header_num("notifications_pending");
	doveadm_import_remote_header_num("notifications_failed");
	doveadm_print_header_simple("created");
}

static void batch_print(struct job_store *store, const struct batch *batch)
{
	enum batch_status status = batch_get_status(batch);
	struct notify_outbox_counts counts;
	const char *error;

	if (notify_outbox_count_batch(store, batch->id, &counts, &error) < 0) {
		e_error(import_remote_event(), "%s", error);
		i_zero(&counts);
	}

	doveadm_print(dec2str(batch->id));
	doveadm_print(batch_status_name(status));
	doveadm_print(batch_status_title(status));
	doveadm_import_remote_print_text(batch->pause_reason);
	doveadm_print_num(batch->jobs_total);
	doveadm_print_num(batch->job_counts[JOB_STATUS_QUEUED]);
	doveadm_print_num(batch->job_counts[JOB_STATUS_PREPARING] +
			  batch->job_counts[JOB_STATUS_RUNNING]);
	doveadm_print_num(batch->job_counts[JOB_STATUS_COMPLETED]);
	doveadm_print_num(batch->job_counts[JOB_STATUS_FAILED]);
	doveadm_print_num(batch->job_counts[JOB_STATUS_CANCELLED]);
	doveadm_print_num(batch->quota_used);
	doveadm_print_num(batch->storage_limit);
	doveadm_import_remote_print_text(batch->notify);
	doveadm_print_num(counts.sent);
	doveadm_print_num(counts.pending);
	doveadm_print_num(counts.failed);
	doveadm_print(t_strflocaltime("%Y-%m-%d %H:%M:%S", batch->created));
}

static void cmd_batch_list(struct doveadm_cmd_context *cctx)
{
	struct job_store *store;
	ARRAY_TYPE(batch) batches;
	const struct batch *batch;
	const char *error;
	pool_t pool;

	if (doveadm_import_remote_store_open(cctx, NULL, &store, NULL,
					     &doveadm_exit_code) < 0)
		return;
	pool = pool_alloconly_create("batches", 4096);
	p_array_init(&batches, pool, 16);
	if (batch_store_list(store, pool, &batches, &error) < 0) {
		e_error(import_remote_event(), "%s", error);
		doveadm_exit_code = EX_TEMPFAIL;
	} else {
		batch_print_header(DOVEADM_PRINT_TYPE_TABLE);
		array_foreach(&batches, batch)
			batch_print(store, batch);
	}
	job_store_close(&store);
	pool_unref(&pool);
}

/* batch status: the batch in every row (sticky), a row per job */
static void batch_print_job(const struct job *job)
{
	doveadm_print(dec2str(job->id));
	doveadm_import_remote_print_text(job->username);
	doveadm_import_remote_print_text(t_strdup_printf("%s@%s:%u",
		job->source_user, job->source_host, job->source_port));
	doveadm_print(job_status_name(job->status));
	doveadm_print(t_strdup_printf("%u/%u", job->msgs_done, job->msgs_total));
	doveadm_print_num(job->imported);
	doveadm_print_num(job->skipped);
	doveadm_print_num(job->bytes_done);
	doveadm_import_remote_print_error(job);
	doveadm_import_remote_print_retry(job);
}

static void cmd_batch_status(struct doveadm_cmd_context *cctx)
{
	struct job_store *store;
	struct batch batch;
	ARRAY_TYPE(job) jobs;
	const struct job *job;
	const char *error;
	pool_t pool;

	pool = pool_alloconly_create("batch status", 4096);
	if (batch_cmd_open(cctx, pool, &store, &batch) == 0) {
		pool_unref(&pool);
		return;
	}
	p_array_init(&jobs, pool, 64);
	if (batch_store_list_jobs(store, pool, batch.id, &jobs, &error) < 0) {
		e_error(import_remote_event(), "%s", error);
		doveadm_exit_code = EX_TEMPFAIL;
	} else {
		enum batch_status status = batch_get_status(&batch);

		doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
		doveadm_print_header("batch", "batch",
				     DOVEADM_PRINT_HEADER_FLAG_STICKY);
		doveadm_print_header("batch_status", "batch_status",
				     DOVEADM_PRINT_HEADER_FLAG_STICKY);
		doveadm_print_header("batch_status_title", "batch_status_title",
				     DOVEADM_PRINT_HEADER_FLAG_STICKY);
		doveadm_print_header("pause_reason", "pause_reason",
				     DOVEADM_PRINT_HEADER_FLAG_STICKY);
		doveadm_print_header_simple("job");
		doveadm_print_header_simple("destination");
		doveadm_print_header_simple("source");
		doveadm_print_header_simple("status");
		doveadm_print_header_simple("messages");
		doveadm_import_remote_header_num("imported");
		doveadm_import_remote_header_num("skipped");
		doveadm_import_remote_header_num("bytes");
		doveadm_import_remote_header_error();
		doveadm_import_remote_header_retry();
		doveadm_print_sticky("batch", dec2str(batch.id));
		doveadm_print_sticky("batch_status", batch_status_name(status));
		doveadm_print_sticky("batch_status_title",
				     batch_status_title(status));
		doveadm_print_sticky("pause_reason", batch.pause_reason);
		array_foreach(&jobs, job)
			batch_print_job(job);
	}
	job_store_close(&store);
	pool_unref(&pool);
}

enum batch_action {
	BATCH_ACTION_PAUSE,
	BATCH_ACTION_RESUME,
	BATCH_ACTION_CANCEL,
	BATCH_ACTION_RETRY_FAILED,
};

static void batch_action(struct doveadm_cmd_context *cctx,
			 enum batch_action action)
{
	struct job_store *store;
	struct batch batch;
	unsigned long long storage_limit = (unsigned long long)-1;
	const char *str, *error = NULL;
	pool_t pool;
	int ret = 0;

	if (action == BATCH_ACTION_RESUME &&
	    doveadm_cmd_param_str(cctx, "storage-limit", &str) &&
	    batch_parse_size(str, &storage_limit) < 0)
		return;
	pool = pool_alloconly_create("batch action", 1024);
	if (batch_cmd_open(cctx, pool, &store, &batch) == 0) {
		pool_unref(&pool);
		return;
	}
	if (batch.state == BATCH_STATE_CANCELLED &&
	    action != BATCH_ACTION_CANCEL) {
		e_error(import_remote_event(),
			"Batch %llu is cancelled", batch.id);
		doveadm_exit_code = EX_DATAERR;
		ret = -1;
	} else switch (action) {
	case BATCH_ACTION_PAUSE:
		ret = batch_store_pause(store, batch.id,
					BATCH_PAUSE_REASON_ADMIN, &error);
		if (ret > 0) {
			e_debug(event_create_passthrough(
					import_remote_event())->
				set_name("import_remote_batch_paused")->
				add_int("batch_id", batch.id)->
				add_str("reason", "admin")->event(),
				"Batch %llu paused", batch.id);
		}
		break;
	case BATCH_ACTION_RESUME:
		ret = batch_store_resume(store, batch.id, storage_limit,
					 &error);
		if (ret == 0 && storage_limit != (unsigned long long)-1) {
			e_error(import_remote_event(),
				"Batch %llu is not paused: "
				"--storage-limit not changed", batch.id);
			doveadm_exit_code = EX_DATAERR;
			ret = -1;
		}
		break;
	case BATCH_ACTION_CANCEL:
		ret = batch_store_cancel(store, batch.id, &error);
		break;
	case BATCH_ACTION_RETRY_FAILED:
		ret = batch_store_retry_failed(store, batch.id, &error);
		break;
	}
	if (ret < 0 && error != NULL) {
		e_error(import_remote_event(), "%s", error);
		doveadm_exit_code = EX_TEMPFAIL;
	}
	if (ret >= 0 && batch_store_get(store, pool, batch.id, &batch,
					&error) > 0) {
		batch_print_header(DOVEADM_PRINT_TYPE_FLOW);
		batch_print(store, &batch);
		if (action == BATCH_ACTION_RETRY_FAILED)
			e_info(import_remote_event(),
				"%d failed job%s queued again",
			       ret, ret == 1 ? "" : "s");
	}
	job_store_close(&store);
	pool_unref(&pool);
}

static void cmd_batch_pause(struct doveadm_cmd_context *cctx)
{
	batch_action(cctx, BATCH_ACTION_PAUSE);
}

static void cmd_batch_resume(struct doveadm_cmd_context *cctx)
{
	batch_action(cctx, BATCH_ACTION_RESUME);
}

static void cmd_batch_cancel(struct doveadm_cmd_context *cctx)
{
	batch_action(cctx, BATCH_ACTION_CANCEL);
}

static void cmd_batch_retry_failed(struct doveadm_cmd_context *cctx)
{
	batch_action(cctx, BATCH_ACTION_RETRY_FAILED);
}

struct doveadm_cmd_ver2 doveadm_cmd_import_remote_batch_create = {
	.name = "import-remote batch create",
	.cmd = cmd_batch_create,
	.usage = "--csv <file> [--dry-run] [--remove-csv] [--notify <address>] "
		"[--storage-limit <size>] [--host <host>] "
		"[--provider google|microsoft] [--oauth2-tenant <tenant>] "
		"[--oauth2-grant client-credentials --oauth2-client-id <id> "
		"(--oauth2-client-secret-file <path> | "
		"--oauth2-client-certificate-file <path> "
		"--oauth2-client-key-file <path>) | "
		"--oauth2-service-account-file <path>] "
		DOVEADM_IMPORT_REMOTE_JOB_USAGE,
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_PARAM('\0', "csv", CMD_PARAM_ISTREAM, 0)
DOVEADM_CMD_PARAM('\0', "dry-run", CMD_PARAM_BOOL, 0)
DOVEADM_CMD_PARAM('\0', "remove-csv", CMD_PARAM_BOOL, 0)
DOVEADM_CMD_PARAM('\0', "notify", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', "storage-limit", CMD_PARAM_STR, 0)
DOVEADM_IMPORT_REMOTE_JOB_PARAMS
DOVEADM_IMPORT_REMOTE_GRANT_PARAMS
DOVEADM_CMD_PARAMS_END
};

struct doveadm_cmd_ver2 doveadm_cmd_import_remote_batch_list = {
	.name = "import-remote batch list",
	.cmd = cmd_batch_list,
	.usage = "",
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_PARAMS_END
};

#define BATCH_CMD(_name, _func) { \
	.name = "import-remote batch "_name, \
	.cmd = _func, \
	.usage = "<batch>", \
DOVEADM_CMD_PARAMS_START \
DOVEADM_CMD_PARAM('\0', "batch", CMD_PARAM_INT64, CMD_PARAM_FLAG_POSITIONAL) \
DOVEADM_CMD_PARAMS_END \
}

struct doveadm_cmd_ver2 doveadm_cmd_import_remote_batch_status =
	BATCH_CMD("status", cmd_batch_status);
struct doveadm_cmd_ver2 doveadm_cmd_import_remote_batch_pause =
	BATCH_CMD("pause", cmd_batch_pause);
struct doveadm_cmd_ver2 doveadm_cmd_import_remote_batch_cancel =
	BATCH_CMD("cancel", cmd_batch_cancel);
struct doveadm_cmd_ver2 doveadm_cmd_import_remote_batch_retry_failed =
	BATCH_CMD("retry-failed", cmd_batch_retry_failed);

struct doveadm_cmd_ver2 doveadm_cmd_import_remote_batch_resume = {
	.name = "import-remote batch resume",
	.cmd = cmd_batch_resume,
	.usage = "[--storage-limit <size>] <batch>",
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_PARAM('\0', "storage-limit", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', "batch", CMD_PARAM_INT64, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
};
