/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "hostpid.h"
#include "istream.h"
#include "master-service.h"
#include "settings-parser.h"
#include "mail-user.h"
#include "import-remote-config.h"

#include <ctype.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>

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

static int
import_remote_config_read_user(struct mail_user *user,
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

static int
import_remote_config_read_user(struct mail_user *user,
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

/* the config files an !include line names (relative to the including
   file's directory) */
static void
import_remote_config_find_in(const char *path, const char *key,
			     unsigned int depth, const char **where_r);

static void
import_remote_config_find_include(const char *path, const char *pattern,
				  const char *key, unsigned int depth,
				  const char **where_r)
{
	const char *p, *dir;
	glob_t globbers;
	size_t i;

	if (pattern[0] != '/') {
		p = strrchr(path, '/');
		dir = p == NULL ? "." : t_strdup_until(path, p);
		pattern = t_strconcat(dir, "/", pattern, NULL);
	}
	i_zero(&globbers);
	if (glob(pattern, GLOB_BRACE, NULL, &globbers) == 0) {
		for (i = 0; i < globbers.gl_pathc; i++) {
			import_remote_config_find_in(globbers.gl_pathv[i], key,
						     depth + 1, where_r);
		}
	}
	globfree(&globbers);
}

/* The last line of the file (or a file it includes) that sets key:
   "<file> line <n>" in *where_r */
static void
import_remote_config_find_in(const char *path, const char *key,
			     unsigned int depth, const char **where_r)
{
	struct istream *input;
	const char *line, *p;
	unsigned int linenum = 0;
	size_t key_len = strlen(key);
	int fd;

	/* includes of includes, at most a few levels (no loop forever) */
	if (depth > 4)
		return;
	fd = open(path, O_RDONLY);
	if (fd == -1)
		return;
	input = i_stream_create_fd_autoclose(&fd, 65536);
	while ((line = i_stream_read_next_line(input)) != NULL) {
		linenum++;
		while (*line == ' ' || *line == '\t')
			line++;
		if (strncmp(line, "!include", 8) == 0) {
			p = line + 8;
			if (strncmp(p, "_try", 4) == 0)
				p += 4;
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p != '\0') {
				import_remote_config_find_include(path,
					t_strcut(p, ' '), key, depth, where_r);
			}
			continue;
		}
		if (strncmp(line, key, key_len) != 0)
			continue;
		p = line + key_len;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '=') {
			*where_r = t_strdup_printf("%s line %u", path,
						   linenum);
		}
	}
	i_stream_destroy(&input);
}

/* An error about one of the plugin's settings ("import_remote_x: ...")
   says where the value came from, as Dovecot's own config errors do: the
   user's userdb field, else the config file and line that set it. */
static const char *
import_remote_config_error_where(struct mail_user *user, const char *error)
{
	const char *p, *key = NULL, *const *field;
	const char *config_path, *where = NULL;
	struct stat st;
	size_t key_len;

	/* the first "import_remote_<name>: " (2.4 puts "import_remote
	   settings: Invalid settings: " before it) */
	for (p = strstr(error, "import_remote_"); p != NULL;
	     p = strstr(p + 1, "import_remote_")) {
		key_len = 14;
		while (i_islower(p[key_len]) || i_isdigit(p[key_len]) ||
		       p[key_len] == '_')
			key_len++;
		if (p[key_len] == ':' && p[key_len + 1] == ' ') {
			key = t_strndup(p, key_len);
			break;
		}
	}
	if (key == NULL)
		return error;
	if (user != NULL && user->userdb_fields != NULL) {
		for (field = user->userdb_fields; *field != NULL; field++) {
			const char *name = *field;

			if (strncmp(name, "plugin/", 7) == 0)
				name += 7;
			if (strncmp(name, key, key_len) == 0 &&
			    name[key_len] == '=') {
				return t_strdup_printf("%s (from the userdb "
					"field %s of user %s)", error, key,
					user->username);
			}
		}
	}
	config_path = master_service == NULL ? NULL :
		master_service_get_config_path(master_service);
	/* a process started by Dovecot's master reads its settings from the
	   config process's socket: no file to look in */
	if (config_path != NULL &&
	    (stat(config_path, &st) < 0 || !S_ISREG(st.st_mode)))
		config_path = NULL;
	if (config_path != NULL)
		import_remote_config_find_in(config_path, key, 0, &where);
	if (where != NULL)
		return t_strdup_printf("%s (in %s)", error, where);
	if (config_path != NULL) {
		return t_strdup_printf("%s (not set in %s or the files it "
				       "includes: given with -o?)", error,
				       config_path);
	}
	return error;
}

int import_remote_config_get_user(struct mail_user *user,
				  const struct import_remote_config **set_r,
				  const char **error_r)
{
	if (import_remote_config_read_user(user, set_r, error_r) < 0) {
		*error_r = import_remote_config_error_where(user, *error_r);
		return -1;
	}
	return 0;
}

int import_remote_config_get(struct event *event,
			     import_remote_config_getenv_t *getenv,
			     void *getenv_context,
			     const struct import_remote_config **set_r,
			     const char **error_r)
{
	if (import_remote_config_read(event, getenv, getenv_context,
				      set_r, error_r) < 0) {
		*error_r = import_remote_config_error_where(NULL, *error_r);
		return -1;
	}
	return 0;
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
