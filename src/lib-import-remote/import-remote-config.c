/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "hostpid.h"
#include "settings-parser.h"
#include "mail-user.h"
#include "import-remote-config.h"

#include <ctype.h>

#if DOVECOT_PREREQ(2, 4, 0)
#include "settings.h"

static int
import_remote_config_read(struct event *event,
			  import_remote_config_getenv_t *getenv ATTR_UNUSED,
			  void *getenv_context ATTR_UNUSED,
			  const struct import_remote_config **set_r,
			  const char **error_r)
{
	return settings_get(event, &import_remote_config_setting_parser_info,
			    0, set_r, error_r);
}

int import_remote_config_get_user(struct mail_user *user,
				  const struct import_remote_config **set_r,
				  const char **error_r)
{
	return import_remote_config_read(user->event, NULL, NULL,
					 set_r, error_r);
}

void import_remote_config_free(const struct import_remote_config **_set)
{
	settings_free(*_set);
}
#else
/* 2.3: parse the plugin { } values with Dovecot's settings parser, using
   the same declaration 2.4's config process checks them with */
static int
import_remote_config_read(struct event *event ATTR_UNUSED,
			  import_remote_config_getenv_t *getenv,
			  void *getenv_context,
			  const struct import_remote_config **set_r,
			  const char **error_r)
{
	const struct setting_parser_info *info =
		&import_remote_config_setting_parser_info;
	const struct setting_define *def;
	struct setting_parser_context *parser;
	struct import_remote_config *set;
	const char *value, *error;
	pool_t pool;
	int ret = 0;

	pool = pool_alloconly_create("import-remote config", 1024);
	parser = settings_parser_init(pool, info, 0);
	for (def = info->defines; def->key != NULL && ret == 0; def++) {
		/* unset or empty: the default, as plugin { } always had */
		value = getenv(def->key, getenv_context);
		if (value == NULL || value[0] == '\0')
			continue;
		if (settings_parse_keyvalue(parser, def->key, value) <= 0) {
			*error_r = t_strdup_printf("%s: %s", def->key,
				settings_parser_get_error(parser));
			ret = -1;
		}
	}
	if (ret == 0 && !settings_parser_check(parser, pool, &error)) {
		*error_r = t_strdup(error);
		ret = -1;
	}
	if (ret == 0) {
		set = settings_parser_get(parser);
		set->pool = pool;
		*set_r = set;
	}
	settings_parser_deinit(&parser);
	if (ret < 0)
		pool_unref(&pool);
	return ret;
}

static const char *
import_remote_config_user_getenv(const char *name, void *context)
{
	return mail_user_plugin_getenv(context, name);
}

int import_remote_config_get_user(struct mail_user *user,
				  const struct import_remote_config **set_r,
				  const char **error_r)
{
	return import_remote_config_read(user->event,
		import_remote_config_user_getenv, user, set_r, error_r);
}

void import_remote_config_free(const struct import_remote_config **_set)
{
	const struct import_remote_config *set = *_set;
	pool_t pool;

	if (set == NULL)
		return;
	*_set = NULL;
	pool = set->pool;
	pool_unref(&pool);
}
#endif

int import_remote_config_get(struct event *event,
			     import_remote_config_getenv_t *getenv,
			     void *getenv_context,
			     const struct import_remote_config **set_r,
			     const char **error_r)
{
	return import_remote_config_read(event, getenv, getenv_context,
					 set_r, error_r);
}

static bool import_remote_config_domain_is_valid(const char *domain)
{
	const char *p;

	if (domain[0] == '\0' || domain[0] == '.' || domain[0] == '-' ||
	    strlen(domain) > 253)
		return FALSE;
	for (p = domain; *p != '\0'; p++) {
		if (!i_isalnum(*p) && *p != '-' && *p != '.')
			return FALSE;
	}
	return TRUE;
}

const char *import_remote_config_notify_from(const struct import_remote_config *set,
					     const char *username)
{
	const char *from = import_remote_config_str(set->import_remote_notify_from);
	const char *domain;

	if (from != NULL)
		return from;
	domain = username == NULL ? NULL : strrchr(username, '@');
	if (domain != NULL && import_remote_config_domain_is_valid(domain + 1))
		return t_strconcat("postmaster", domain, NULL);
	return t_strconcat("postmaster@", my_hostdomain(), NULL);
}
