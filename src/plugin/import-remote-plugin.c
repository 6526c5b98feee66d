/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* The mail plugin (mail_plugins = import_remote): a user whose settings -
   normally userdb fields - name their old mailbox (import_remote_source_*)
   gets it imported at their first IMAP or POP3 login, queued exactly as
   "doveadm import-remote start" does, once or (sync) again until a
   cut-over date. A login is never delayed by it and never fails because of
   it: what a login must know is in a state file in the user's home
   (trigger-state.h); when the store has to be asked, that happens after
   the login, and a failure is logged and tried again at a later login.
   Only then is the store's code loaded (import-remote-queue.h): a login
   whose import is settled loads no SQL driver and no crypto library.

   While the import runs, and after it, the user reads its state over IMAP
   METADATA: /private/vendor/vendor.dovecot/import-remote on the server
   (mailbox ""), JSON. With import_remote_user_requests = yes, the entries
   below it let the user queue, cancel and retry their own imports and
   read their history (user-request.h); those load the queueing module. */

#include "lib.h"
#include "ioloop.h"
#include "module-context.h"
#include "istream.h"
#include "str.h"
#include "safe-memset.h"
#include "mail-user.h"
#include "mail-storage-private.h"
#include "mail-storage-hooks.h"
#include "mailbox-attribute.h"
#include "import-remote-compat.h"
#include "import-remote-config.h"
#include "import-remote-error.h"
#include "trigger-state.h"
#include "trigger-due.h"
#include "import-remote-queue.h"
#include "user-request.h"
#include "import-remote-event.h"
#include "import-remote-plugin.h"

#define IMPORT_REMOTE_USER_CONTEXT(obj) \
	MODULE_CONTEXT_REQUIRE(obj, import_remote_user_module)

struct import_remote_user {
	union mail_user_module_context module_ctx;
	/* runs the store's part after the login */
	struct timeout *to_queue;
};

const char *import_remote_plugin_version = DOVECOT_ABI_VERSION;

/* the queueing module, once loaded */
static struct module *import_remote_queue_modules = NULL;
static import_remote_queue_user_t *import_remote_queue_func = NULL;
static import_remote_queue_request_t *import_remote_request_func = NULL;
static import_remote_queue_history_t *import_remote_history_func = NULL;

static MODULE_CONTEXT_DEFINE_INIT(import_remote_user_module,
				  &mail_user_module_register);

static void import_remote_queue(struct mail_user *user);

static void import_remote_user_deinit(struct mail_user *user)
{
	struct import_remote_user *iuser = IMPORT_REMOTE_USER_CONTEXT(user);

	/* a session that ended at once (a POP3 client's LOGIN + QUIT):
	   queued now */
	if (iuser->to_queue != NULL)
		import_remote_queue(user);
	iuser->module_ctx.super.deinit(user);
}

static int import_remote_queue_load(struct mail_user *user,
				    const char **error_r)
{
	struct module_dir_load_settings mod_set;
	struct module *module;

	if (import_remote_queue_func != NULL)
		return 0;
	i_zero(&mod_set);
	mod_set.abi_version = DOVECOT_ABI_VERSION;
	mod_set.require_init_funcs = TRUE;
	mod_set.debug = event_want_debug(user->event);
	/* a login never fails because of it: say so and go on */
	mod_set.ignore_missing = TRUE;
	mod_set.ignore_dlopen_errors = TRUE;
	import_remote_queue_modules = import_remote_compat_module_load(
		import_remote_queue_modules,
		IMPORT_REMOTE_MODULEDIR"/"IMPORT_REMOTE_QUEUE_MODULE_DIR,
		IMPORT_REMOTE_QUEUE_MODULE_NAME, &mod_set);
	module_dir_init(import_remote_queue_modules);
	for (module = import_remote_queue_modules; module != NULL;
	     module = module->next) {
		if (strcmp(module->name, IMPORT_REMOTE_QUEUE_MODULE_NAME) == 0)
			break;
	}
	if (module != NULL) {
		import_remote_queue_func =
			module_get_symbol(module, IMPORT_REMOTE_QUEUE_SYMBOL);
		import_remote_request_func = module_get_symbol(module,
			IMPORT_REMOTE_QUEUE_REQUEST_SYMBOL);
		import_remote_history_func = module_get_symbol(module,
			IMPORT_REMOTE_QUEUE_HISTORY_SYMBOL);
	}
	if (import_remote_queue_func == NULL ||
	    import_remote_request_func == NULL ||
	    import_remote_history_func == NULL) {
		import_remote_queue_func = NULL;
		*error_r = "The module "IMPORT_REMOTE_QUEUE_MODULE_NAME
			" is missing from "IMPORT_REMOTE_MODULEDIR"/"
			IMPORT_REMOTE_QUEUE_MODULE_DIR" or could not be loaded "
			"(mail_debug=yes says why)";
		return -1;
	}
	return 0;
}

static void import_remote_queue(struct mail_user *user)
{
	struct import_remote_user *iuser = IMPORT_REMOTE_USER_CONTEXT(user);
	const char *error;

	timeout_remove(&iuser->to_queue);
	if (import_remote_queue_load(user, &error) < 0 ||
	    import_remote_queue_func(user, &error) < 0) {
		struct event *event = import_remote_event_create(user->event);

		e_error(event, "Queueing the automatic "
			"import failed (tried again at a later login): %s",
			error);
		event_unref(&event);
	}
}

static bool import_remote_service_is_login(const char *service)
{
	/* a user logging in, not mail delivered to them (lmtp, lda),
	   indexing or an admin's doveadm */
	return service != NULL &&
		(strcmp(service, "imap") == 0 || strcmp(service, "pop3") == 0);
}

static void import_remote_mail_user_created(struct mail_user *user)
{
	struct mail_user_vfuncs *v = user->vlast;
	struct import_remote_user *iuser;
	const char *error;
	int ret;

	if (user->autocreated || user->session_restored ||
	    !import_remote_service_is_login(user->service))
		return;
	ret = trigger_due_at_login(user, &error);
	if (ret < 0) {
		struct event *event = import_remote_event_create(user->event);

		e_error(event, "%s", error);
		event_unref(&event);
		return;
	}
	if (ret == 0)
		return;

	iuser = p_new(user->pool, struct import_remote_user, 1);
	iuser->module_ctx.super = *v;
	user->vlast = &iuser->module_ctx.super;
	v->deinit = import_remote_user_deinit;
	MODULE_CONTEXT_SET(user, import_remote_user_module, iuser);
	/* after the login has been answered */
	iuser->to_queue = timeout_add_short(0, import_remote_queue, user);
}

static int
import_remote_attribute_get(struct mailbox *box, const char *key ATTR_UNUSED,
			    struct mail_attribute_value *value_r)
{
	struct mail_user *user = box->storage->user;
	struct trigger_state state;
	const char *path, *error;
	int ret;

	path = trigger_state_path(user);
	if (path == NULL)
		return 0;
	ret = trigger_state_read(path, pool_datastack_create(), &state, &error);
	if (ret < 0) {
		mail_storage_set_critical(box->storage, "import-remote: %s",
					  error);
		return -1;
	}
	if (ret == 0)
		return 0;
	value_r->value = trigger_state_json(&state);
	return 1;
}

static const struct mailbox_attribute_internal import_remote_iattr_status = {
	.type = MAIL_ATTRIBUTE_TYPE_PRIVATE,
	.key = MAILBOX_ATTRIBUTE_PREFIX_DOVECOT_PVT_SERVER
		"vendor/vendor.dovecot/import-remote",
	.rank = MAIL_ATTRIBUTE_INTERNAL_RANK_AUTHORITY,
	.get = import_remote_attribute_get,
};

/* --- the user's own requests --- */

/* Are user requests on for the user? Returns 1, 0 (the storage's error
   is set), -1. */
static int import_remote_requests_enabled(struct mailbox *box)
{
	struct mail_user *user = box->storage->user;
	const struct import_remote_config *set;
	const char *error;
	bool enabled;

	if (import_remote_config_get_user(user, &set, &error) < 0) {
		mail_storage_set_critical(box->storage, "import-remote: %s",
					  error);
		return -1;
	}
	enabled = set->import_remote_user_requests;
	import_remote_config_free(&set);
	if (!enabled) {
		mail_storage_set_error(box->storage, MAIL_ERROR_PERM,
			"Imports can't be requested here "
			"(import_remote_user_requests = no)");
		return 0;
	}
	if (import_remote_queue_load(user, &error) < 0) {
		mail_storage_set_critical(box->storage, "import-remote: %s",
					  error);
		return -1;
	}
	return 1;
}

/* The value written, at most USER_REQUEST_MAX_VALUE_SIZE bytes, in str.
   Returns 1, 0 if it is NIL (nothing to do), -1 (the storage's error is
   set). */
static int
import_remote_attribute_value(struct mailbox *box,
			      const struct mail_attribute_value *value,
			      string_t *str)
{
	const unsigned char *data;
	bool too_long = FALSE;
	size_t size;
	int ret;

	if (value->value != NULL) {
		str_append(str, value->value);
		too_long = str_len(str) > USER_REQUEST_MAX_VALUE_SIZE;
	}
	else if (value->value_stream != NULL) {
		/* (IMAP has read the literal into a seekable stream) */
		i_stream_seek(value->value_stream, 0);
		while ((ret = i_stream_read_more(value->value_stream, &data,
						 &size)) > 0) {
			if (str_len(str) + size > USER_REQUEST_MAX_VALUE_SIZE) {
				too_long = TRUE;
				break;
			}
			str_append_data(str, data, size);
			i_stream_skip(value->value_stream, size);
		}
		if (ret == -1 && value->value_stream->stream_errno != 0) {
			mail_storage_set_critical(box->storage,
				"import-remote: read(%s) failed: %s",
				i_stream_get_name(value->value_stream),
				i_stream_get_error(value->value_stream));
			return -1;
		}
		if (ret == -2)
			too_long = TRUE;
	} else {
		return 0;
	}
	if (too_long || strlen(str_c(str)) != str_len(str)) {
		safe_memset(str_c_modifiable(str), 0, str_len(str));
		mail_storage_set_error(box->storage, MAIL_ERROR_PARAMS,
			t_strdup_printf("%s: The value is longer than %u bytes "
				"or has a NUL byte",
				import_remote_error_get_info(
					IMPORT_REMOTE_ERROR_REQUEST_INVALID)->title,
				USER_REQUEST_MAX_VALUE_SIZE));
		return -1;
	}
	return 1;
}

static int
import_remote_attribute_request(struct mailbox_transaction_context *t,
				enum user_request_action action,
				const struct mail_attribute_value *value)
{
	struct mailbox *box = t->box;
	const char *error;
	string_t *str;
	int ret;

	if ((ret = import_remote_requests_enabled(box)) <= 0)
		return -1;
	str = t_str_new(256);
	if ((ret = import_remote_attribute_value(box, value, str)) <= 0)
		return ret;
	ret = import_remote_request_func(box->storage->user, action,
					 str_c_modifiable(str), &error);
	safe_memset(str_c_modifiable(str), 0, str_len(str));
	if (ret < 0) {
		mail_storage_set_critical(box->storage, "import-remote: %s",
					  error);
		return -1;
	}
	if (ret == 0) {
		mail_storage_set_error(box->storage, MAIL_ERROR_PARAMS, error);
		return -1;
	}
	return 0;
}

static int
import_remote_attribute_set_request(struct mailbox_transaction_context *t,
				    const char *key ATTR_UNUSED,
				    const struct mail_attribute_value *value)
{
	return import_remote_attribute_request(t, USER_REQUEST_START, value);
}

static int
import_remote_attribute_set_cancel(struct mailbox_transaction_context *t,
				   const char *key ATTR_UNUSED,
				   const struct mail_attribute_value *value)
{
	return import_remote_attribute_request(t, USER_REQUEST_CANCEL, value);
}

static int
import_remote_attribute_set_retry(struct mailbox_transaction_context *t,
				  const char *key ATTR_UNUSED,
				  const struct mail_attribute_value *value)
{
	return import_remote_attribute_request(t, USER_REQUEST_RETRY, value);
}

/* what was written is never read back (a request holds a password) */
static int
import_remote_attribute_get_none(struct mailbox *box ATTR_UNUSED,
				 const char *key ATTR_UNUSED,
				 struct mail_attribute_value *value_r ATTR_UNUSED)
{
	return 0;
}

static int
import_remote_attribute_get_history(struct mailbox *box,
				    const char *key ATTR_UNUSED,
				    struct mail_attribute_value *value_r)
{
	const char *json, *error;
	int ret;

	if ((ret = import_remote_requests_enabled(box)) <= 0)
		return ret;
	if (import_remote_history_func(box->storage->user, &json,
				       &error) < 0) {
		mail_storage_set_critical(box->storage, "import-remote: %s",
					  error);
		return -1;
	}
	value_r->value = json;
	return 1;
}

#define IMPORT_REMOTE_IATTR_KEY(name) \
	MAILBOX_ATTRIBUTE_PREFIX_DOVECOT_PVT_SERVER \
		"vendor/vendor.dovecot/import-remote/"name

static const struct mailbox_attribute_internal import_remote_iattr_requests[] = {
	{
		.type = MAIL_ATTRIBUTE_TYPE_PRIVATE,
		.key = IMPORT_REMOTE_IATTR_KEY(USER_REQUEST_ENTRY_CANCEL),
		.rank = MAIL_ATTRIBUTE_INTERNAL_RANK_AUTHORITY,
		.get = import_remote_attribute_get_none,
		.set = import_remote_attribute_set_cancel,
	},
	{
		.type = MAIL_ATTRIBUTE_TYPE_PRIVATE,
		.key = IMPORT_REMOTE_IATTR_KEY(USER_REQUEST_ENTRY_HISTORY),
		.rank = MAIL_ATTRIBUTE_INTERNAL_RANK_AUTHORITY,
		.get = import_remote_attribute_get_history,
	},
	{
		.type = MAIL_ATTRIBUTE_TYPE_PRIVATE,
		.key = IMPORT_REMOTE_IATTR_KEY(USER_REQUEST_ENTRY_REQUEST),
		.rank = MAIL_ATTRIBUTE_INTERNAL_RANK_AUTHORITY,
		.get = import_remote_attribute_get_none,
		.set = import_remote_attribute_set_request,
	},
	{
		.type = MAIL_ATTRIBUTE_TYPE_PRIVATE,
		.key = IMPORT_REMOTE_IATTR_KEY(USER_REQUEST_ENTRY_RETRY),
		.rank = MAIL_ATTRIBUTE_INTERNAL_RANK_AUTHORITY,
		.get = import_remote_attribute_get_none,
		.set = import_remote_attribute_set_retry,
	},
};

static struct mail_storage_hooks import_remote_mail_storage_hooks = {
	.mail_user_created = import_remote_mail_user_created,
};

void import_remote_plugin_init(struct module *module)
{
	mail_storage_hooks_add(module, &import_remote_mail_storage_hooks);
	mailbox_attribute_register_internal(&import_remote_iattr_status);
	mailbox_attribute_register_internals(import_remote_iattr_requests,
		N_ELEMENTS(import_remote_iattr_requests));
}

void import_remote_plugin_deinit(void)
{
	import_remote_queue_func = NULL;
	import_remote_request_func = NULL;
	import_remote_history_func = NULL;
	if (import_remote_queue_modules != NULL) {
		module_dir_deinit(import_remote_queue_modules);
		module_dir_unload(&import_remote_queue_modules);
	}
	mailbox_attribute_unregister_internals(import_remote_iattr_requests,
		N_ELEMENTS(import_remote_iattr_requests));
	mailbox_attribute_unregister_internal(&import_remote_iattr_status);
	import_remote_event_deinit();
	mail_storage_hooks_remove(&import_remote_mail_storage_hooks);
}
