/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "module-dir.h"
#include "iostream-ssl.h"
#include "master-service.h"
#include "mail-namespace.h"
#include "mail-storage-settings.h"
#include "mail-storage-service.h"
#include "auth-master.h"
#include "mail-user.h"
#include "smtp-submit.h"
#include "sql-api.h"
#include "quota.h"
#include "import-remote-config.h"
#include "import-remote-compat.h"

#if DOVECOT_PREREQ(2, 4, 0)
#  include "json-generator.h"
#  include "settings.h"
#  include "str-parse.h"
#  include "ssl-settings.h"
#  include "master-service-settings.h"
#else
#  include "json-parser.h"
#  include "settings-parser.h"
#  include "master-service-settings.h"
#endif

#include <dlfcn.h>

/* used when the user's settings name no CA */
#define IMPORT_REMOTE_DEFAULT_CA_DIR "/etc/ssl/certs"

int import_remote_compat_parse_size(const char *str, uoff_t *bytes_r,
				    const char **error_r)
{
#if DOVECOT_PREREQ(2, 4, 0)
	return str_parse_get_size(str, bytes_r, error_r);
#else
	return settings_get_size(str, bytes_r, error_r);
#endif
}

int import_remote_compat_parse_interval(const char *str, unsigned int *secs_r,
					const char **error_r)
{
#if DOVECOT_PREREQ(2, 4, 0)
	return str_parse_get_interval(str, secs_r, error_r);
#else
	return settings_get_time(str, secs_r, error_r);
#endif
}

/* --- TLS --- */

/* import_remote_ssl_min_protocol of the user (from data stack) */
static int import_remote_ssl_min_protocol(struct mail_user *user,
					  const char **min_protocol_r,
					  const char **error_r)
{
	const struct import_remote_config *set;

	if (import_remote_config_get_user(user, &set, error_r) < 0)
		return -1;
	*min_protocol_r = t_strdup(set->import_remote_ssl_min_protocol);
	import_remote_config_free(&set);
	return 0;
}

#if DOVECOT_PREREQ(2, 4, 0)
int import_remote_compat_ssl_client_settings(struct mail_user *user,
		pool_t pool ATTR_UNUSED, bool allow_invalid_cert ATTR_UNUSED,
		const struct ssl_iostream_settings **set_r,
		const char **error_r)
{
	const struct ssl_settings *ssl_set;
	const struct ssl_iostream_settings *set;
	struct ssl_iostream_settings *copy;
	const char *min_protocol;

	if (import_remote_ssl_min_protocol(user, &min_protocol, error_r) < 0)
		return -1;
	if (ssl_client_settings_get(user->event, &ssl_set, error_r) < 0)
		return -1;
	ssl_client_settings_to_iostream_set(ssl_set, &set);
	settings_free(ssl_set);
	/* in set's own pool: lib-ssl-iostream's context cache keeps the
	   settings it was made of (with a reference to their pool) */
	copy = p_new(set->pool, struct ssl_iostream_settings, 1);
	*copy = *set;
	if (copy->ca.content == NULL && copy->ca.path == NULL &&
	    (copy->ca_dir == NULL || copy->ca_dir[0] == '\0'))
		copy->ca_dir = IMPORT_REMOTE_DEFAULT_CA_DIR;
	/* a certificate that fails verification fails the handshake's
	   callback unless --tls-insecure, given per connection */
	copy->allow_invalid_cert = FALSE;
	copy->min_protocol = p_strdup(copy->pool, min_protocol);
	*set_r = copy;
	return 0;
}

void import_remote_compat_ssl_client_settings_free(
		const struct ssl_iostream_settings **_set)
{
	const struct ssl_iostream_settings *set = *_set;
	pool_t pool;

	if (set == NULL)
		return;
	*_set = NULL;
	pool = set->pool;
	pool_unref(&pool);
}

int import_remote_compat_ssl_client_create(struct ssl_iostream_context *ctx,
		const char *host,
		const struct ssl_iostream_settings *set ATTR_UNUSED,
		bool allow_invalid_cert, struct event *event_parent,
		struct istream **input, struct ostream **output,
		struct ssl_iostream **ssl_io_r, const char **error_r)
{
	return io_stream_create_ssl_client(ctx, host, event_parent,
		allow_invalid_cert ? SSL_IOSTREAM_FLAG_ALLOW_INVALID_CERT : 0,
		input, output, ssl_io_r, error_r);
}
void import_remote_compat_ssl_ca(const struct ssl_iostream_settings *set,
				  const char **ca_file_r,
				  const char **ca_content_r,
				  const char **ca_dir_r)
{
	*ca_file_r = set->ca.path;
	/* a configured file's content is read by the config process */
	*ca_content_r = set->ca.content;
	*ca_dir_r = set->ca_dir;
	if (*ca_content_r != NULL && (*ca_content_r)[0] != '\0')
		*ca_file_r = NULL;
}
#else
void import_remote_compat_ssl_ca(const struct ssl_iostream_settings *set,
				  const char **ca_file_r,
				  const char **ca_content_r,
				  const char **ca_dir_r)
{
	*ca_file_r = set->ca_file;
	*ca_content_r = set->ca;
	*ca_dir_r = set->ca_dir;
}

int import_remote_compat_ssl_client_settings(struct mail_user *user,
		pool_t pool, bool allow_invalid_cert,
		const struct ssl_iostream_settings **set_r,
		const char **error_r)
{
	struct ssl_iostream_settings *set;
	const char *min_protocol;

	if (import_remote_ssl_min_protocol(user, &min_protocol, error_r) < 0)
		return -1;
	set = p_new(pool, struct ssl_iostream_settings, 1);
	mail_user_init_ssl_client_settings(user, set);
	if ((set->ca_file == NULL || set->ca_file[0] == '\0') &&
	    (set->ca_dir == NULL || set->ca_dir[0] == '\0'))
		set->ca_dir = IMPORT_REMOTE_DEFAULT_CA_DIR;
	set->verify_remote_cert = !allow_invalid_cert;
	set->allow_invalid_cert = allow_invalid_cert;
	set->min_protocol = p_strdup(pool, min_protocol);
	*set_r = set;
	return 0;
}

void import_remote_compat_ssl_client_settings_free(
		const struct ssl_iostream_settings **set)
{
	*set = NULL;
}

int import_remote_compat_ssl_client_create(struct ssl_iostream_context *ctx,
		const char *host, const struct ssl_iostream_settings *set,
		bool allow_invalid_cert ATTR_UNUSED,
		struct event *event_parent ATTR_UNUSED,
		struct istream **input, struct ostream **output,
		struct ssl_iostream **ssl_io_r, const char **error_r)
{
	return io_stream_create_ssl_client(ctx, host, set, input, output,
					   ssl_io_r, error_r);
}
#endif

/* --- mail storage --- */

void import_remote_compat_special_use_mailboxes(struct mail_namespace *ns,
		import_remote_special_use_callback_t *callback, void *context)
{
#if DOVECOT_PREREQ(2, 4, 0)
	const struct mailbox_settings *const *box_setp;
	const char *const *uses;

	if (!array_is_created(&ns->set->parsed_mailboxes))
		return;
	array_foreach(&ns->set->parsed_mailboxes, box_setp) {
		if (!array_is_created(&(*box_setp)->special_use) ||
		    array_is_empty(&(*box_setp)->special_use))
			continue;
		uses = settings_boollist_get(&(*box_setp)->special_use);
		if (*uses != NULL) {
			callback((*box_setp)->name,
				 t_strarray_join(uses, " "), context);
		}
	}
#else
	struct mailbox_settings *const *box_setp;

	if (!array_is_created(&ns->set->mailboxes))
		return;
	array_foreach(&ns->set->mailboxes, box_setp) {
		if ((*box_setp)->special_use != NULL &&
		    (*box_setp)->special_use[0] != '\0')
			callback((*box_setp)->name, (*box_setp)->special_use,
				 context);
	}
#endif
}

struct mail_storage_service_ctx *
import_remote_compat_storage_service_init(unsigned int flags)
{
#if DOVECOT_PREREQ(2, 4, 0)
	return mail_storage_service_init(master_service, flags);
#else
	return mail_storage_service_init(master_service, NULL, flags);
#endif
}

int import_remote_compat_user_lookup(struct mail_storage_service_ctx *ctx,
		const struct mail_storage_service_input *input,
		struct mail_user **user_r, const char **error_r)
{
#if DOVECOT_PREREQ(2, 4, 0)
	return mail_storage_service_lookup_next(ctx, input, user_r, error_r);
#else
	struct mail_storage_service_user *service_user;
	int ret;

	ret = mail_storage_service_lookup_next(ctx, input, &service_user,
					       user_r, error_r);
	/* the mail user holds a reference of its own */
	if (ret > 0)
		mail_storage_service_user_unref(&service_user);
	return ret;
#endif
}

void import_remote_compat_user_deinit(struct mail_user **user)
{
	mail_user_deinit(user);
}

int import_remote_compat_user_exists(struct mail_storage_service_ctx *ctx,
		const struct mail_storage_service_input *input,
		const char **error_r)
{
	struct mail_storage_service_user *service_user;
	int ret;

	ret = mail_storage_service_lookup(ctx, input, &service_user, error_r);
	if (ret > 0)
		mail_storage_service_user_unref(&service_user);
	return ret;
}

/* The userdb connection of the storage service, made here rather than by
   its first lookup: with mail_debug, the one it makes logs every userdb
   reply whole ("Finished userdb lookup (... import_remote_source_password=
   ...)"), and an automatic import's userdb fields carry the source
   password. mail_debug still applies to everything else. */
static void
import_remote_compat_auth_conn_init(struct mail_storage_service_ctx *ctx,
				    const char *auth_socket_path)
{
	mail_storage_service_set_auth_conn(ctx,
		auth_master_init(auth_socket_path, 0));
}

#if DOVECOT_PREREQ(2, 4, 0)
int import_remote_compat_service_config(
		struct mail_storage_service_ctx *ctx,
		const char *service_name ATTR_UNUSED,
		const struct import_remote_config **set_r,
		const char **error_r)
{
	const struct mail_user_settings *user_set;
	struct event *event = master_service_get_event(master_service);

	if (master_service_settings_read_simple(master_service, error_r) < 0)
		return -1;
	/* not expanded: no user yet (mail_log_prefix's %{user}, ...);
	   the socket path has no variables */
	if (settings_get(event, &mail_user_setting_parser_info,
			 SETTINGS_GET_FLAG_NO_EXPAND, &user_set, error_r) < 0)
		return -1;
	import_remote_compat_auth_conn_init(ctx, user_set->auth_socket_path);
	settings_free(user_set);
	return import_remote_config_get(event, NULL, NULL, set_r, error_r);
}
#else
static const char *
import_remote_compat_user_set_getenv(const char *name, void *context)
{
	return mail_user_set_plugin_getenv(context, name);
}

int import_remote_compat_service_config(struct mail_storage_service_ctx *ctx,
		const char *service_name,
		const struct import_remote_config **set_r,
		const char **error_r)
{
	struct mail_storage_service_input input;
	const struct setting_parser_info *user_info;
	const struct setting_parser_info *const *roots;
	const struct setting_parser_context *parser;
	const struct mail_user_settings *user_set = NULL;
	void **sets;
	unsigned int i;
	pool_t pool;
	int ret;

	i_zero(&input);
	input.service = service_name;
	/* the settings live in the pool: copied out before it is freed */
	pool = pool_alloconly_create("service settings", 1024);
	ret = mail_storage_service_read_settings(ctx, &input, pool,
						 &user_info, &parser, error_r);
	if (ret == 0) {
		roots = settings_parser_get_roots(parser);
		sets = settings_parser_get_list(parser);
		for (i = 0; roots[i] != NULL; i++) {
			if (roots[i] == user_info)
				user_set = sets[i];
		}
		i_assert(user_set != NULL);
		import_remote_compat_auth_conn_init(ctx,
						    user_set->auth_socket_path);
		ret = import_remote_config_get(NULL,
			import_remote_compat_user_set_getenv, (void *)user_set,
			set_r, error_r);
	}
	pool_unref(&pool);
	return ret;
}
#endif

/* The quota plugin's own functions, if it is loaded (Dovecot loads plugins
   with RTLD_GLOBAL): the doveadm plugin and the worker load without it */
struct import_remote_quota_funcs {
	typeof(&quota_root_iter_init_user) iter_init;
	typeof(&quota_root_iter_next) iter_next;
	typeof(&quota_root_iter_deinit) iter_deinit;
	typeof(&quota_root_get_name) get_name;
	typeof(&quota_get_resource) get_resource;
};

static bool import_remote_quota_funcs(struct import_remote_quota_funcs *f)
{
	f->iter_init = dlsym(RTLD_DEFAULT, "quota_root_iter_init_user");
	f->iter_next = dlsym(RTLD_DEFAULT, "quota_root_iter_next");
	f->iter_deinit = dlsym(RTLD_DEFAULT, "quota_root_iter_deinit");
	f->get_name = dlsym(RTLD_DEFAULT, "quota_root_get_name");
	f->get_resource = dlsym(RTLD_DEFAULT, "quota_get_resource");
	return f->iter_init != NULL && f->iter_next != NULL &&
		f->iter_deinit != NULL && f->get_name != NULL &&
		f->get_resource != NULL;
}

static enum quota_get_result
import_remote_quota_storage(const struct import_remote_quota_funcs *f,
			    struct quota_root *root, uint64_t *value_r,
			    uint64_t *limit_r, const char **error_r)
{
#if DOVECOT_PREREQ(2, 4, 0)
	/* the user's own usage: no mailbox */
	return f->get_resource(root, NULL, QUOTA_NAME_STORAGE_BYTES,
			       value_r, limit_r, error_r);
#else
	return f->get_resource(root, "", QUOTA_NAME_STORAGE_BYTES,
			       value_r, limit_r, error_r);
#endif
}

int import_remote_compat_quota_remaining(struct mail_user *user,
					 uint64_t *bytes_r, uint64_t *limit_r,
					 const char **error_r)
{
	struct import_remote_quota_funcs f;
	struct quota_root_iter *iter;
	struct quota_root *root;
	uint64_t value, limit, remaining = (uint64_t)-1;
	const char *error;
	int ret = 0;

	*limit_r = 0;
	if (!import_remote_quota_funcs(&f))
		return 0;
	iter = f.iter_init(user);
	while ((root = f.iter_next(iter)) != NULL) {
		switch (import_remote_quota_storage(&f, root, &value, &limit,
						    &error)) {
		case QUOTA_GET_RESULT_LIMITED:
			if (limit < value)
				value = limit;
			if (limit - value < remaining) {
				remaining = limit - value;
				*limit_r = limit;
			}
			if (ret == 0)
				ret = 1;
			break;
		case QUOTA_GET_RESULT_UNLIMITED:
		case QUOTA_GET_RESULT_UNKNOWN_RESOURCE:
			break;
		default:
			*error_r = error;
			ret = -1;
			break;
		}
	}
	f.iter_deinit(&iter);
	*bytes_r = remaining;
	return ret;
}

int import_remote_compat_quota_root_usage(struct mail_user *user,
					  const char *root_name,
					  const char *except_root,
					  uint64_t *used_r, uint64_t *limit_r,
					  const char **error_r)
{
	struct import_remote_quota_funcs f;
	struct quota_root_iter *iter;
	struct quota_root *root;
	const char *name, *error;
	uint64_t value, limit;
	int ret = 0;

	*used_r = *limit_r = 0;
	*limit_r = 0;
	if (!import_remote_quota_funcs(&f))
		return 0;
	iter = f.iter_init(user);
	while (ret == 0 && (root = f.iter_next(iter)) != NULL) {
		name = f.get_name(root);
		if (root_name != NULL ? strcmp(name, root_name) != 0 :
		    (except_root != NULL && strcmp(name, except_root) == 0))
			continue;
		switch (import_remote_quota_storage(&f, root, &value, &limit,
						    &error)) {
		case QUOTA_GET_RESULT_LIMITED:
			*used_r = value;
			*limit_r = limit;
			ret = 1;
			break;
		case QUOTA_GET_RESULT_UNLIMITED:
			*used_r = value;
			ret = 1;
			break;
		case QUOTA_GET_RESULT_UNKNOWN_RESOURCE:
			break;
		default:
			*error_r = t_strdup_printf("quota root %s: %s",
						   name, error);
			ret = -1;
			break;
		}
	}
	f.iter_deinit(&iter);
	return ret;
}

/* --- lib-sql --- */

/* the driver modules loaded here */
static struct module *import_remote_sql_modules = NULL;
#if DOVECOT_PREREQ(2, 4, 0)
/* the events that give lib-sql its settings: a driver keeps its dbs
   (and their parent events) cached until it is deinitialized */
static ARRAY(struct event *) import_remote_sql_events = ARRAY_INIT;
/* the settings root when no configuration was read (unit tests) */
static struct settings_root *import_remote_sql_own_root = NULL;
#endif

void import_remote_compat_sql_drivers_init(void)
{
	sql_drivers_init();
#if !DOVECOT_PREREQ(2, 4, 0)
	sql_drivers_register_all();
#endif
}

void import_remote_compat_sql_drivers_deinit(void)
{
	if (import_remote_sql_modules != NULL)
		module_dir_unload(&import_remote_sql_modules);
	sql_drivers_deinit();
#if DOVECOT_PREREQ(2, 4, 0)
	struct event *event;
	struct settings_instance *instance;

	if (array_is_created(&import_remote_sql_events)) {
		array_foreach_elem(&import_remote_sql_events, event) {
			instance = event_get_ptr(event, SETTINGS_EVENT_INSTANCE);
			event_unref(&event);
			settings_instance_free(&instance);
		}
		array_free(&import_remote_sql_events);
	}
	if (import_remote_sql_own_root != NULL)
		settings_root_deinit(&import_remote_sql_own_root);
#endif
}

/* the driver's module, if it isn't loaded yet */
static void import_remote_sql_load_driver(const char *driver)
{
	struct module_dir_load_settings mod_set;
	const char *name = t_strconcat("driver_", driver, NULL);

	i_zero(&mod_set);
	mod_set.abi_version = DOVECOT_ABI_VERSION;
	mod_set.require_init_funcs = TRUE;
	import_remote_sql_modules = import_remote_compat_module_load(
		import_remote_sql_modules, MODULEDIR, name, &mod_set);
	module_dir_init(import_remote_sql_modules);
}

#if DOVECOT_PREREQ(2, 4, 0)
/* import_remote_store's connect string as lib-sql's settings, on an event
   of its own: sqlite_path, or a pgsql { } filter named by the libpq host
   with the other keywords as its parameters */
/* A libpq connect string ("host=/run/postgresql dbname=mail user=x") as a
   pgsql { } filter: its name is the host (a unix socket directory can't
   be a name in an override's path: then a fixed name, and the host as a
   parameter, which libpq takes over the name); every keyword is a
   parameter. No host: localhost. */
static void
import_remote_sql_pgsql_settings(struct settings_instance *instance,
				 const char *connect_string)
{
	const char *const *args = t_strsplit_spaces(connect_string, " ");
	const char *const *arg, *host = "localhost", *key, *value, *prefix;

	for (arg = args; *arg != NULL; arg++) {
		if (str_begins(*arg, "host=", &value) && value[0] != '\0')
			host = value;
	}
	if (strchr(host, '/') != NULL)
		host = "unix-socket";
	settings_override(instance, "pgsql", host,
			  SETTINGS_OVERRIDE_TYPE_CODE);
	prefix = t_strdup_printf("pgsql/%s/pgsql_parameters/", host);
	/* at least one parameter: Dovecot 2.4.1 crashes without */
	settings_override(instance, t_strconcat(prefix, "application_name",
						NULL),
			  "dovecot-import-remote", SETTINGS_OVERRIDE_TYPE_CODE);
	for (arg = args; *arg != NULL; arg++) {
		value = strchr(*arg, '=');
		if (value == NULL)
			continue;
		key = t_strdup_until(*arg, value++);
		settings_override(instance, t_strconcat(prefix, key, NULL),
				  value, SETTINGS_OVERRIDE_TYPE_CODE);
	}
}

static struct event *
import_remote_sql_event(const char *driver, const char *connect_string,
			struct event *event_parent)
{
	struct settings_root *root = NULL;
	struct settings_instance *instance;
	struct event *event;

	if (event_parent == NULL && master_service != NULL)
		event_parent = master_service_get_event(master_service);
	if (event_parent != NULL)
		root = settings_root_find(event_parent);
	if (root == NULL) {
		/* no configuration read (unit tests): only these */
		if (import_remote_sql_own_root == NULL)
			import_remote_sql_own_root = settings_root_init();
		root = import_remote_sql_own_root;
	}
	instance = settings_instance_new(root);
	settings_override(instance, "sql_driver", driver,
			  SETTINGS_OVERRIDE_TYPE_CODE);
	if (strcmp(driver, "sqlite") == 0) {
		settings_override(instance, "sqlite_path", connect_string,
				  SETTINGS_OVERRIDE_TYPE_CODE);
	} else {
		import_remote_sql_pgsql_settings(instance, connect_string);
	}
	event = event_create(event_parent);
	event_set_ptr(event, SETTINGS_EVENT_INSTANCE, instance);
	if (event_parent == NULL)
		event_set_ptr(event, SETTINGS_EVENT_ROOT, root);
	if (!array_is_created(&import_remote_sql_events))
		i_array_init(&import_remote_sql_events, 4);
	array_push_back(&import_remote_sql_events, &event);
	return event;
}

int import_remote_compat_sql_init(const char *driver,
				  const char *connect_string,
				  struct event *event_parent,
				  struct sql_db **db_r, const char **error_r)
{
	struct event *event;

	event = import_remote_sql_event(driver, connect_string, event_parent);
	if (sql_init_auto(event, db_r, error_r) > 0)
		return 0;
	/* the driver isn't registered in this process yet */
	import_remote_sql_load_driver(driver);
	return sql_init_auto(event, db_r, error_r) > 0 ? 0 : -1;
}
#else
int import_remote_compat_sql_init(const char *driver,
				  const char *connect_string,
				  struct event *event_parent,
				  struct sql_db **db_r, const char **error_r)
{
	struct sql_settings set;

	i_zero(&set);
	set.driver = driver;
	set.connect_string = connect_string;
	set.event_parent = event_parent;
	if (sql_init_full(&set, db_r, error_r) == 0)
		return 0;
	/* the driver isn't registered in this process yet */
	import_remote_sql_load_driver(driver);
	return sql_init_full(&set, db_r, error_r);
}
#endif

void import_remote_compat_smtp_submit_allow_root(
		struct smtp_submit_input *input ATTR_UNUSED)
{
#if !DOVECOT_PREREQ(2, 4, 0)
	input->allow_root = TRUE;
#endif
}

void import_remote_compat_log_settings(const char **path_r,
				       const char **timestamp_r,
				       const char **syslog_facility_r)
{
#if DOVECOT_PREREQ(2, 4, 0)
	const struct master_service_settings *set =
		master_service_get_service_settings(master_service);
#else
	const struct master_service_settings *set =
		master_service_settings_get(master_service);
#endif

	*path_r = set->info_log_path[0] != '\0' ?
		set->info_log_path : set->log_path;
	*timestamp_r = set->log_timestamp;
	*syslog_facility_r = set->syslog_facility;
}
