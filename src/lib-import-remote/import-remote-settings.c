/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "safe-memset.h"
#include "strescape.h"
#include "istream.h"
#include "import-remote-settings.h"

#include <time.h>
#include <unistd.h>

/* A password file line longer than this is surely not a password, nor an
   OAuth2 access token (Microsoft's run to a few kB). */
#define PASSWORD_MAX_LEN 8192

void import_remote_settings_init(pool_t pool,
				 struct import_remote_settings *set_r)
{
	i_zero(set_r);
	set_r->ssl = IMPORT_REMOTE_SSL_IMAPS;
	set_r->dedup = IMPORT_REMOTE_DEDUP_FOLDER;
	set_r->connect_timeout_msecs = IMPORT_REMOTE_DEFAULT_CONNECT_TIMEOUT_MSECS;
	set_r->cmd_timeout_msecs = IMPORT_REMOTE_DEFAULT_CMD_TIMEOUT_MSECS;
	set_r->fetch_chunk = IMPORT_REMOTE_DEFAULT_FETCH_CHUNK;
	set_r->throttle_retries = IMPORT_REMOTE_DEFAULT_THROTTLE_RETRIES;
	set_r->throttle_delay_msecs = IMPORT_REMOTE_DEFAULT_THROTTLE_DELAY_MSECS;
	set_r->reconnects = IMPORT_REMOTE_DEFAULT_RECONNECTS;
	p_array_init(&set_r->include_folders, pool, 4);
	p_array_init(&set_r->exclude_folders, pool, 4);
}

int import_remote_ssl_parse(const char *str, enum import_remote_ssl *ssl_r)
{
	if (strcasecmp(str, "imaps") == 0 || strcasecmp(str, "ssl") == 0 ||
	    strcasecmp(str, "tls") == 0)
		*ssl_r = IMPORT_REMOTE_SSL_IMAPS;
	else if (strcasecmp(str, "starttls") == 0)
		*ssl_r = IMPORT_REMOTE_SSL_STARTTLS;
	else if (strcasecmp(str, "none") == 0)
		*ssl_r = IMPORT_REMOTE_SSL_NONE;
	else
		return -1;
	return 0;
}

const char *import_remote_ssl_name(enum import_remote_ssl ssl)
{
	switch (ssl) {
	case IMPORT_REMOTE_SSL_IMAPS:
		return "imaps";
	case IMPORT_REMOTE_SSL_STARTTLS:
		return "starttls";
	case IMPORT_REMOTE_SSL_NONE:
		return "none";
	}
	i_unreached();
}

static const char *const auth_mech_names[] = {
	"auto", "plain", "login", "oauth2", "xoauth2", "oauthbearer"
};

int import_remote_auth_mech_parse(const char *str,
				  enum import_remote_auth_mech *mech_r)
{
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(auth_mech_names); i++) {
		if (strcasecmp(str, auth_mech_names[i]) == 0) {
			*mech_r = i;
			return 0;
		}
	}
	return -1;
}

const char *import_remote_auth_mech_name(enum import_remote_auth_mech mech)
{
	i_assert(mech < N_ELEMENTS(auth_mech_names));
	return auth_mech_names[mech];
}

bool import_remote_auth_mech_is_oauth2(enum import_remote_auth_mech mech)
{
	return mech == IMPORT_REMOTE_AUTH_OAUTH2 ||
		mech == IMPORT_REMOTE_AUTH_XOAUTH2 ||
		mech == IMPORT_REMOTE_AUTH_OAUTHBEARER;
}

static const char *const oauth2_grant_names[] = {
	"none", "refresh_token", "client_credentials", "jwt_bearer"
};

int import_remote_oauth2_grant_parse(const char *str,
				     enum import_remote_oauth2_grant *grant_r)
{
	const char *name = t_str_replace(str, '-', '_');
	unsigned int i;

	for (i = 1; i < N_ELEMENTS(oauth2_grant_names); i++) {
		if (strcmp(name, oauth2_grant_names[i]) == 0) {
			*grant_r = i;
			return 0;
		}
	}
	return -1;
}

const char *
import_remote_oauth2_grant_name(enum import_remote_oauth2_grant grant)
{
	i_assert(grant < N_ELEMENTS(oauth2_grant_names));
	return oauth2_grant_names[grant];
}

int import_remote_dedup_parse(const char *str,
			      enum import_remote_dedup *dedup_r)
{
	if (strcmp(str, "folder") == 0)
		*dedup_r = IMPORT_REMOTE_DEDUP_FOLDER;
	else if (strcmp(str, "account") == 0)
		*dedup_r = IMPORT_REMOTE_DEDUP_ACCOUNT;
	else if (strcmp(str, "off") == 0)
		*dedup_r = IMPORT_REMOTE_DEDUP_OFF;
	else
		return -1;
	return 0;
}

int import_remote_date_parse(const char *str, time_t *time_r)
{
	struct tm tm;
	unsigned int y, m, d;
	time_t t;

	if (strlen(str) != 10 || str[4] != '-' || str[7] != '-')
		return -1;
	if (str_to_uint(t_strndup(str, 4), &y) < 0 ||
	    str_to_uint(t_strndup(str + 5, 2), &m) < 0 ||
	    str_to_uint(t_strndup(str + 8, 2), &d) < 0)
		return -1;
	if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31)
		return -1;

	i_zero(&tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	/* reject dates that timegm() normalized, e.g. 2024-02-31 */
	if (tm.tm_mday != (int)d || tm.tm_mon != (int)m - 1)
		return -1;
	*time_r = t;
	return 0;
}

in_port_t import_remote_settings_get_port(const struct import_remote_settings *set)
{
	if (set->port != 0)
		return set->port;
	return set->ssl == IMPORT_REMOTE_SSL_IMAPS ? 993 : 143;
}

bool import_remote_has_control_chars(const char *str)
{
	for (; *str != '\0'; str++) {
		if ((unsigned char)*str < 0x20 || *str == 0x7f)
			return TRUE;
	}
	return FALSE;
}

int import_remote_settings_check(const struct import_remote_settings *set,
				 const char **error_r)
{
	if (set->host == NULL || set->host[0] == '\0') {
		*error_r = "Missing source host (--host)";
		return -1;
	}
	if (strpbrk(set->host, " /") != NULL ||
	    import_remote_has_control_chars(set->host)) {
		*error_r = "Invalid source host name";
		return -1;
	}
	if (set->username == NULL || set->username[0] == '\0') {
		*error_r = "Missing source username (--user)";
		return -1;
	}
	if (import_remote_has_control_chars(set->username)) {
		*error_r = "Invalid source username (--user): it contains a "
			"control character or line break";
		return -1;
	}
	if (set->oauth2_grant != IMPORT_REMOTE_OAUTH2_GRANT_NONE) {
		if (!import_remote_auth_mech_is_oauth2(set->auth_mech)) {
			*error_r = "An OAuth2 grant signs in with OAuth2: "
				"--auth-mechanism must be oauth2, xoauth2 or "
				"oauthbearer";
			return -1;
		}
		if (set->oauth2_token_url == NULL) {
			*error_r = "An OAuth2 grant needs --oauth2-token-url "
				"(or --provider)";
			return -1;
		}
		switch (set->oauth2_grant) {
		case IMPORT_REMOTE_OAUTH2_GRANT_NONE:
			i_unreached();
		case IMPORT_REMOTE_OAUTH2_GRANT_REFRESH_TOKEN:
			if (set->oauth2_refresh_token == NULL ||
			    set->oauth2_client_id == NULL) {
				*error_r = "The refresh token grant needs "
					"--refresh-token-file (or -stdin) and "
					"--oauth2-client-id";
				return -1;
			}
			break;
		case IMPORT_REMOTE_OAUTH2_GRANT_CLIENT_CREDENTIALS:
			if ((set->oauth2_client_secret == NULL &&
			     set->oauth2_client_certificate == NULL) ||
			    set->oauth2_client_id == NULL) {
				*error_r = "The client credentials grant needs "
					"--oauth2-client-id and "
					"--oauth2-client-secret-file (or "
					"--oauth2-client-certificate-file and "
					"--oauth2-client-key-file)";
				return -1;
			}
			if ((set->oauth2_client_certificate == NULL) !=
			    (set->oauth2_client_key == NULL)) {
				*error_r = "A certificate credential needs both "
					"--oauth2-client-certificate-file and "
					"--oauth2-client-key-file";
				return -1;
			}
			if (set->oauth2_client_certificate != NULL &&
			    set->oauth2_client_secret != NULL) {
				*error_r = "Give either a client secret or a "
					"certificate credential";
				return -1;
			}
			break;
		case IMPORT_REMOTE_OAUTH2_GRANT_JWT_BEARER:
			if (set->oauth2_service_account == NULL) {
				*error_r = "The JWT bearer grant needs "
					"--oauth2-service-account-file";
				return -1;
			}
			break;
		}
		if (set->oauth2_client_id != NULL &&
		    import_remote_has_control_chars(set->oauth2_client_id)) {
			*error_r = "Invalid --oauth2-client-id: it contains a "
				"control character or line break";
			return -1;
		}
		if (import_remote_has_control_chars(set->oauth2_token_url) ||
		    (set->oauth2_scope != NULL &&
		     import_remote_has_control_chars(set->oauth2_scope))) {
			*error_r = "Invalid OAuth2 option: it contains a "
				"control character or line break";
			return -1;
		}
	} else if ((set->password == NULL || set->password[0] == '\0') &&
	    import_remote_auth_mech_is_oauth2(set->auth_mech)) {
		*error_r = "Missing OAuth2 access token "
			"(--access-token-file or --access-token-stdin)";
		return -1;
	}
	if ((set->password == NULL || set->password[0] == '\0') &&
	    set->oauth2_grant == IMPORT_REMOTE_OAUTH2_GRANT_NONE) {
		*error_r = "Missing source password "
			"(--password-file or --password-stdin)";
		return -1;
	}
	if (set->fetch_chunk == 0) {
		*error_r = "import_remote_fetch_chunk must be at least 1";
		return -1;
	}
	if (set->cmd_timeout_msecs < 1000) {
		*error_r = "--stall-timeout must be at least 1 second";
		return -1;
	}
	if (set->since != 0 && set->before != 0 && set->since >= set->before) {
		*error_r = "--since must be earlier than --before";
		return -1;
	}
	return 0;
}

/* The password: the first line of what was read. Wipes buf. */
static int
import_remote_password_from(char *buf, size_t buf_size, size_t pos,
			    pool_t pool, const char **password_r,
			    const char **error_r)
{
	size_t len;
	int result = 0;

	for (len = 0; len < pos; len++) {
		if (buf[len] == '\n' || buf[len] == '\r')
			break;
		if (buf[len] == '\0') {
			*error_r = "Password contains a NUL byte";
			result = -1;
			break;
		}
	}
	if (result == 0 && len > PASSWORD_MAX_LEN) {
		*error_r = "Password is too long";
		result = -1;
	} else if (result == 0 && len == 0) {
		*error_r = "Password is empty";
		result = -1;
	}
	if (result == 0)
		*password_r = p_strndup(pool, buf, len);
	safe_memset(buf, 0, buf_size);
	return result;
}

int import_remote_password_read_fd(int fd, pool_t pool, const char **password_r,
				   const char **error_r)
{
	char buf[PASSWORD_MAX_LEN + 2];
	size_t pos = 0;
	ssize_t ret;

	/* plain read() into a stack buffer that is wiped afterwards, so the
	   password leaves no copy behind in a stream buffer */
	while (pos < sizeof(buf)) {
		ret = read(fd, buf + pos, sizeof(buf) - pos);
		if (ret == 0)
			break;
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			*error_r = t_strdup_printf("read() failed: %m");
			safe_memset(buf, 0, sizeof(buf));
			return -1;
		}
		pos += ret;
		if (memchr(buf + pos - ret, '\n', ret) != NULL)
			break;
	}
	return import_remote_password_from(buf, sizeof(buf), pos, pool,
					   password_r, error_r);
}

int import_remote_password_read_stream(struct istream *input, pool_t pool,
				       const char **password_r,
				       const char **error_r)
{
	char buf[PASSWORD_MAX_LEN + 2];
	const unsigned char *data;
	size_t pos = 0, size;
	int ret;

	while (pos < sizeof(buf) &&
	       (ret = i_stream_read_more(input, &data, &size)) > 0) {
		size = I_MIN(size, sizeof(buf) - pos);
		memcpy(buf + pos, data, size);
		/* the stream's own copy goes too */
		safe_memset((void *)data, 0, size);
		i_stream_skip(input, size);
		pos += size;
		if (memchr(buf + pos - size, '\n', size) != NULL)
			break;
	}
	if (input->stream_errno != 0) {
		*error_r = t_strdup(i_stream_get_error(input));
		safe_memset(buf, 0, sizeof(buf));
		return -1;
	}
	return import_remote_password_from(buf, sizeof(buf), pos, pool,
					   password_r, error_r);
}

static const char *const dedup_names[] = { "folder", "account", "off" };

const char *import_remote_settings_export(const struct import_remote_settings *set)
{
	string_t *str = t_str_new(128);
	const char *pattern;

	str_printfa(str, "dedup=%s", dedup_names[set->dedup]);
	if (set->auth_mech != IMPORT_REMOTE_AUTH_PASSWORD) {
		str_printfa(str, "\tauth=%s",
			    import_remote_auth_mech_name(set->auth_mech));
	}
	if (set->since != 0)
		str_printfa(str, "\tsince=%ld", (long)set->since);
	if (set->before != 0)
		str_printfa(str, "\tbefore=%ld", (long)set->before);
	if (set->oauth2_grant != IMPORT_REMOTE_OAUTH2_GRANT_NONE) {
		str_printfa(str, "\toauth2_grant=%s",
			    import_remote_oauth2_grant_name(set->oauth2_grant));
	}
	if (set->oauth2_token_url != NULL) {
		str_append(str, "\toauth2_token_url=");
		str_append_tabescaped(str, set->oauth2_token_url);
	}
	if (set->oauth2_client_id != NULL) {
		str_append(str, "\toauth2_client_id=");
		str_append_tabescaped(str, set->oauth2_client_id);
	}
	if (set->oauth2_scope != NULL) {
		str_append(str, "\toauth2_scope=");
		str_append_tabescaped(str, set->oauth2_scope);
	}
	if (set->newest_first)
		str_append(str, "\tnewest_first=1");
	if (set->mirror)
		str_append(str, "\tmirror=1");
	if (set->tls_insecure)
		str_append(str, "\ttls_insecure=1");
	if (set->dest_parent != NULL) {
		str_append(str, "\tdest_parent=");
		str_append_tabescaped(str, set->dest_parent);
	}
	array_foreach_elem(&set->include_folders, pattern) {
		str_append(str, "\tfolder=");
		str_append_tabescaped(str, pattern);
	}
	array_foreach_elem(&set->exclude_folders, pattern) {
		str_append(str, "\texclude=");
		str_append_tabescaped(str, pattern);
	}
	str_printfa(str, "\tfetch_chunk=%u\tthrottle_retries=%u"
		    "\tconnect_timeout_msecs=%u",
		    set->fetch_chunk, set->throttle_retries,
		    set->connect_timeout_msecs);
	str_printfa(str, "\tstall_timeout_msecs=%u\treconnects=%u",
		    set->cmd_timeout_msecs, set->reconnects);
	if (set->connections != 0)
		str_printfa(str, "\tconnections=%u", set->connections);
	return str_c(str);
}

#define SECRET_BUNDLE_MARK "\001oauth2"

const char *import_remote_settings_export_secret(const struct import_remote_settings *set)
{
	string_t *str;

	if (set->oauth2_grant == IMPORT_REMOTE_OAUTH2_GRANT_NONE)
		return set->password;
	str = t_str_new(256);
	str_append(str, SECRET_BUNDLE_MARK);
	if (set->oauth2_refresh_token != NULL) {
		str_append(str, "\trefresh=");
		str_append_tabescaped(str, set->oauth2_refresh_token);
	}
	if (set->oauth2_client_secret != NULL) {
		str_append(str, "\tsecret=");
		str_append_tabescaped(str, set->oauth2_client_secret);
	}
	if (set->oauth2_client_certificate != NULL) {
		str_append(str, "\tcert=");
		str_append_tabescaped(str, set->oauth2_client_certificate);
	}
	if (set->oauth2_client_key != NULL) {
		str_append(str, "\tkey=");
		str_append_tabescaped(str, set->oauth2_client_key);
	}
	if (set->oauth2_service_account != NULL) {
		str_append(str, "\taccount=");
		str_append_tabescaped(str, set->oauth2_service_account);
	}
	return str_c(str);
}

int import_remote_settings_import_secret(pool_t pool, const char *secret,
					 struct import_remote_settings *set,
					 const char **error_r)
{
	const char *const *fields, *value;
	bool bundle = strncmp(secret, SECRET_BUNDLE_MARK,
			      strlen(SECRET_BUNDLE_MARK)) == 0;

	if (!bundle) {
		if (set->oauth2_grant != IMPORT_REMOTE_OAUTH2_GRANT_NONE) {
			*error_r = "the job signs in with an OAuth2 grant, "
				"but its secret is not one";
			return -1;
		}
		set->password = secret;
		return 0;
	}
	if (set->oauth2_grant == IMPORT_REMOTE_OAUTH2_GRANT_NONE) {
		*error_r = "the job's secret is an OAuth2 grant's, but the "
			"job does not sign in with one";
		return -1;
	}
	fields = t_strsplit_tabescaped(secret + strlen(SECRET_BUNDLE_MARK));
	for (; *fields != NULL; fields++) {
		if ((*fields)[0] == '\0')
			continue;
		value = strchr(*fields, '=');
		if (value == NULL) {
			*error_r = "invalid OAuth2 secret";
			return -1;
		}
		value++;
		if (strncmp(*fields, "refresh=", 8) == 0)
			set->oauth2_refresh_token = p_strdup(pool, value);
		else if (strncmp(*fields, "secret=", 7) == 0)
			set->oauth2_client_secret = p_strdup(pool, value);
		else if (strncmp(*fields, "cert=", 5) == 0)
			set->oauth2_client_certificate = p_strdup(pool, value);
		else if (strncmp(*fields, "key=", 4) == 0)
			set->oauth2_client_key = p_strdup(pool, value);
		else if (strncmp(*fields, "account=", 8) == 0)
			set->oauth2_service_account = p_strdup(pool, value);
		else {
			*error_r = "unknown field in the OAuth2 secret";
			return -1;
		}
	}
	return 0;
}

static int settings_import_uint(const char *value, unsigned int *num_r,
				const char *key, const char **error_r)
{
	if (str_to_uint(value, num_r) < 0) {
		*error_r = t_strdup_printf("Invalid %s: %s", key, value);
		return -1;
	}
	return 0;
}

int import_remote_settings_import(pool_t pool, const char *str,
				  struct import_remote_settings *set,
				  const char **error_r)
{
	const char *const *fields, *key, *value;
	long long num;

	for (fields = t_strsplit_tabescaped(str); *fields != NULL; fields++) {
		value = strchr(*fields, '=');
		if (value == NULL) {
			*error_r = t_strdup_printf("Invalid option: %s", *fields);
			return -1;
		}
		key = t_strdup_until(*fields, value++);
		if (strcmp(key, "dedup") == 0) {
			if (import_remote_dedup_parse(value, &set->dedup) < 0) {
				*error_r = t_strdup_printf("Invalid dedup: %s", value);
				return -1;
			}
		} else if (strcmp(key, "auth") == 0) {
			if (import_remote_auth_mech_parse(value,
							  &set->auth_mech) < 0) {
				*error_r = t_strdup_printf("Invalid auth: %s",
							   value);
				return -1;
			}
		} else if (strcmp(key, "since") == 0 ||
			   strcmp(key, "before") == 0) {
			if (str_to_llong(value, &num) < 0 || num < 0) {
				*error_r = t_strdup_printf("Invalid %s: %s",
							   key, value);
				return -1;
			}
			if (key[0] == 's')
				set->since = num;
			else
				set->before = num;
		} else if (strcmp(key, "oauth2_grant") == 0) {
			if (import_remote_oauth2_grant_parse(value,
					&set->oauth2_grant) < 0) {
				*error_r = t_strdup_printf(
					"Invalid oauth2_grant: %s", value);
				return -1;
			}
		} else if (strcmp(key, "oauth2_token_url") == 0) {
			set->oauth2_token_url = p_strdup(pool, value);
		} else if (strcmp(key, "oauth2_client_id") == 0) {
			set->oauth2_client_id = p_strdup(pool, value);
		} else if (strcmp(key, "oauth2_scope") == 0) {
			set->oauth2_scope = p_strdup(pool, value);
		} else if (strcmp(key, "newest_first") == 0) {
			set->newest_first = strcmp(value, "1") == 0;
		} else if (strcmp(key, "mirror") == 0) {
			set->mirror = strcmp(value, "1") == 0;
		} else if (strcmp(key, "tls_insecure") == 0) {
			set->tls_insecure = strcmp(value, "1") == 0;
		} else if (strcmp(key, "dest_parent") == 0) {
			set->dest_parent = p_strdup(pool, value);
		} else if (strcmp(key, "folder") == 0) {
			value = p_strdup(pool, value);
			array_push_back(&set->include_folders, &value);
		} else if (strcmp(key, "exclude") == 0) {
			value = p_strdup(pool, value);
			array_push_back(&set->exclude_folders, &value);
		} else if (strcmp(key, "fetch_chunk") == 0) {
			if (settings_import_uint(value, &set->fetch_chunk,
						 key, error_r) < 0)
				return -1;
		} else if (strcmp(key, "throttle_retries") == 0) {
			if (settings_import_uint(value, &set->throttle_retries,
						 key, error_r) < 0)
				return -1;
		} else if (strcmp(key, "connect_timeout_msecs") == 0) {
			if (settings_import_uint(value,
						 &set->connect_timeout_msecs,
						 key, error_r) < 0)
				return -1;
		} else if (strcmp(key, "stall_timeout_msecs") == 0) {
			if (settings_import_uint(value, &set->cmd_timeout_msecs,
						 key, error_r) < 0)
				return -1;
			if (set->cmd_timeout_msecs < 1000) {
				*error_r = t_strdup_printf("Invalid %s: %s",
							   key, value);
				return -1;
			}
		} else if (strcmp(key, "reconnects") == 0) {
			if (settings_import_uint(value, &set->reconnects,
						 key, error_r) < 0)
				return -1;
		} else if (strcmp(key, "connections") == 0) {
			if (settings_import_uint(value, &set->connections,
						 key, error_r) < 0)
				return -1;
			if (set->connections < 1 ||
			    set->connections > IMPORT_REMOTE_MAX_CONNECTIONS) {
				*error_r = t_strdup_printf("Invalid %s: %s",
							   key, value);
				return -1;
			}
		} else {
			/* written by a newer version: ignoring an option
			   could import something else than asked */
			*error_r = t_strdup_printf("Unknown option: %s", key);
			return -1;
		}
	}
	return 0;
}
