/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "mail-namespace.h"
#include "mail-storage-settings.h"
#include "mail-user.h"
#include "quota.h"
#include "import-remote-compat.h"

#include <dlfcn.h>

void import_remote_compat_ssl_client_settings(struct mail_user *user,
		struct ssl_iostream_settings *ssl_set_r)
{
	mail_user_init_ssl_client_settings(user, ssl_set_r);
}

void import_remote_compat_special_use_mailboxes(struct mail_namespace *ns,
		import_remote_special_use_callback_t *callback, void *context)
{
	struct mailbox_settings *const *box_setp;

	if (!array_is_created(&ns->set->mailboxes))
		return;
	array_foreach(&ns->set->mailboxes, box_setp) {
		if ((*box_setp)->special_use != NULL &&
		    (*box_setp)->special_use[0] != '\0')
			callback((*box_setp)->name, (*box_setp)->special_use,
				 context);
	}
}

const char *import_remote_compat_plugin_setting(struct mail_user *user,
						const char *name)
{
	const char *value = mail_user_plugin_getenv(user, name);

	return value == NULL || value[0] == '\0' ? NULL : value;
}

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

int import_remote_compat_quota_remaining(struct mail_user *user,
					 uint64_t *bytes_r,
					 const char **error_r)
{
	struct import_remote_quota_funcs f;
	struct quota_root_iter *iter;
	struct quota_root *root;
	uint64_t value, limit, remaining = (uint64_t)-1;
	const char *error;
	int ret = 0;

	if (!import_remote_quota_funcs(&f))
		return 0;
	iter = f.iter_init(user);
	while ((root = f.iter_next(iter)) != NULL) {
		switch (f.get_resource(root, "", QUOTA_NAME_STORAGE_BYTES,
				       &value, &limit, &error)) {
		case QUOTA_GET_RESULT_LIMITED:
			if (limit < value)
				value = limit;
			if (limit - value < remaining)
				remaining = limit - value;
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
	if (!import_remote_quota_funcs(&f))
		return 0;
	iter = f.iter_init(user);
	while (ret == 0 && (root = f.iter_next(iter)) != NULL) {
		name = f.get_name(root);
		if (root_name != NULL ? strcmp(name, root_name) != 0 :
		    (except_root != NULL && strcmp(name, except_root) == 0))
			continue;
		switch (f.get_resource(root, "", QUOTA_NAME_STORAGE_BYTES,
				       &value, &limit, &error)) {
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
