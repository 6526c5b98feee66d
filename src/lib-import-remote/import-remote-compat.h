#ifndef IMPORT_REMOTE_COMPAT_H
#define IMPORT_REMOTE_COMPAT_H

/* Every Dovecot call whose shape differs between 2.3 and 2.4 is made
   through here (import-remote-compat.c, with DOVECOT_PREREQ()), so that the
   engine, the worker and the doveadm commands read the same on both.
   Settings are read in import-remote-config.c. */

#include "net.h"

struct event;
struct istream;
struct ostream;
struct mail_user;
struct mail_namespace;
struct mail_storage_service_ctx;
struct mail_storage_service_input;
struct ssl_iostream;
struct ssl_iostream_context;
struct ssl_iostream_settings;
struct smtp_submit_input;
struct sql_db;
struct import_remote_config;

/* --- modules --- */

#include "module-dir.h"

/* Load the module called name from dir, unless modules has it already
   (2.4 takes a list of names, 2.3 a string) */
static inline struct module *
import_remote_compat_module_load(struct module *modules, const char *dir,
				 const char *name,
				 const struct module_dir_load_settings *set)
{
#if DOVECOT_PREREQ(2, 4, 0)
	const char *names[] = { name, NULL };

	return module_dir_load_missing(modules, dir, names, set);
#else
	return module_dir_load_missing(modules, dir, name, set);
#endif
}

/* --- strings, arrays, JSON --- */

#if DOVECOT_PREREQ(2, 4, 0)
#  define import_remote_str_begins(str, prefix) str_begins_with(str, prefix)
/* the element found, for changing it */
#  define import_remote_array_bsearch_modifiable(array, key, cmp) \
	array_bsearch_modifiable(array, key, cmp)
#else
#  define import_remote_str_begins(str, prefix) str_begins(str, prefix)
#  define import_remote_array_bsearch_modifiable(array, key, cmp) \
	array_bsearch(array, key, cmp)
#endif

/* JSON string contents, escaped (inline: the mail plugin has no other
   use for this file's code) */
#if DOVECOT_PREREQ(2, 4, 0)
#  include "json-generator.h"
#else
#  include "json-parser.h"
#endif
static inline void
import_remote_compat_json_append_escaped(string_t *dest, const char *src)
{
	json_append_escaped(dest, src);
}

/* "10M", "1G": bytes. Returns 0, or -1 with an error. */
int import_remote_compat_parse_size(const char *str, uoff_t *bytes_r,
				    const char **error_r);
/* "30 mins", "2h", "7d": seconds, as a time setting is read. Returns 0,
   or -1 with an error. */
int import_remote_compat_parse_interval(const char *str, unsigned int *secs_r,
					const char **error_r);

/* --- TLS --- */

/* The user's TLS client settings (ssl_client_ca_file/_dir, protocols, ...;
   /etc/ssl/certs when no CA is set). allow_invalid_cert: accept any
   certificate. Free with import_remote_compat_ssl_client_settings_free(). */
int import_remote_compat_ssl_client_settings(struct mail_user *user,
		pool_t pool, bool allow_invalid_cert,
		const struct ssl_iostream_settings **set_r,
		const char **error_r);
void import_remote_compat_ssl_client_settings_free(
		const struct ssl_iostream_settings **set);
/* The CAs the settings trust, for a client that is not an iostream (the
   OAuth2 token request): a PEM file, PEM content, a directory (each NULL
   or "" if unset) */
void import_remote_compat_ssl_ca(const struct ssl_iostream_settings *set,
				  const char **ca_file_r,
				  const char **ca_content_r,
				  const char **ca_dir_r);
/* TLS on the streams, to host, with settings from
   import_remote_compat_ssl_client_settings() */
int import_remote_compat_ssl_client_create(struct ssl_iostream_context *ctx,
		const char *host, const struct ssl_iostream_settings *set,
		bool allow_invalid_cert, struct event *event_parent,
		struct istream **input, struct ostream **output,
		struct ssl_iostream **ssl_io_r, const char **error_r);

/* --- mail storage --- */

/* Call callback for every mailbox of the namespace's configuration that has
   a special_use (e.g. "\Sent"; several may be space-separated). Names are
   relative to the namespace prefix. */
typedef void import_remote_special_use_callback_t(const char *name,
						  const char *special_use,
						  void *context);
void import_remote_compat_special_use_mailboxes(struct mail_namespace *ns,
		import_remote_special_use_callback_t *callback, void *context);

/* The storage service of a standalone program (the worker) or a doveadm
   command: mail_storage_service_init() */
struct mail_storage_service_ctx *
import_remote_compat_storage_service_init(unsigned int flags);
/* Look the user up and create its mail user. Returns 1, 0 if there is no
   such user, -1 on error. Free with import_remote_compat_user_deinit(). */
int import_remote_compat_user_lookup(struct mail_storage_service_ctx *ctx,
		const struct mail_storage_service_input *input,
		struct mail_user **user_r, const char **error_r);
void import_remote_compat_user_deinit(struct mail_user **user);
/* Only the userdb lookup (does the user exist?). Returns 1, 0, -1. */
int import_remote_compat_user_exists(struct mail_storage_service_ctx *ctx,
		const struct mail_storage_service_input *input,
		const char **error_r);
/* The global import_remote_* settings of a standalone program using the
   storage service ctx as service_name. Reading them may re-execute the
   program through doveconf (standalone with -c), so nothing may happen
   before. Also gives ctx its userdb connection, one that never logs the
   userdb's replies (they may carry import_remote_source_password), also
   with mail_debug. Free with import_remote_config_free(). */
int import_remote_compat_service_config(struct mail_storage_service_ctx *ctx,
		const char *service_name,
		const struct import_remote_config **set_r,
		const char **error_r);

/* The storage the user may still fill before the quota is full, the
   smallest over all quota roots (limit_r: that root's limit). Returns 1 if limited, 0 if there is no
   limit (or no quota plugin loaded), -1 on error. The quota plugin is
   looked up at run time, so the doveadm plugin loads without it. */
int import_remote_compat_quota_remaining(struct mail_user *user,
					 uint64_t *bytes_r, uint64_t *limit_r,
					 const char **error_r);

/* Storage used and its limit (0 = unlimited) in the user's quota root
   named root_name, or, with root_name NULL, in the first root not named
   except_root (NULL: the first root). Returns 1, 0 if there is no such
   root (or no quota plugin), -1 on error. */
int import_remote_compat_quota_root_usage(struct mail_user *user,
					  const char *root_name,
					  const char *except_root,
					  uint64_t *used_r, uint64_t *limit_r,
					  const char **error_r);

/* --- lib-sql, smtp-submit --- */

/* Register the SQL drivers (sql_drivers_init() and all built-in ones),
   and unregister them, with the driver modules loaded meanwhile */
void import_remote_compat_sql_drivers_init(void);
void import_remote_compat_sql_drivers_deinit(void);
/* Connect to driver ("sqlite", "pgsql") with the connect string of
   import_remote_store (a path for sqlite, a libpq string for pgsql; on 2.4
   turned into lib-sql's settings), loading the driver's module when it
   isn't registered yet. */
int import_remote_compat_sql_init(const char *driver,
				  const char *connect_string,
				  struct event *event_parent,
				  struct sql_db **db_r, const char **error_r);

/* --- logging --- */

/* Where Dovecot's configuration sends info lines (info_log_path, else
   log_path: a file, "syslog" or "/dev/stderr"), its log_timestamp and
   syslog_facility */
void import_remote_compat_log_settings(const char **path_r,
				       const char **timestamp_r,
				       const char **syslog_facility_r);

/* smtp-submit may run sendmail as root (2.3 must be told; 2.4 allows it) */
void import_remote_compat_smtp_submit_allow_root(struct smtp_submit_input *input);

#endif
