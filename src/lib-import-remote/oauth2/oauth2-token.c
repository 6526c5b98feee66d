/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "buffer.h"
#include "net.h"
#include "safe-memset.h"
#include "http-url.h"
#include "str-sanitize.h"
#include "outbound-guard.h"
#include "oauth2-json.h"
#include "oauth2-jwt.h"
#include "oauth2-token.h"

#include <ctype.h>
#include <curl/curl.h>

struct oauth2_token_url {
	const char *host;
	in_port_t port;
};

struct oauth2_token_answer {
	const char *access_token, *refresh_token, *token_type;
	const char *expires_in;
	const char *error, *error_description;
};

/* lib-http's parser; what the token client adds: https only, no user or
   password in it, a host name (or address) only of the characters a host
   has (it is given to curl as it is) */
static int
oauth2_token_url_parse(const char *url, struct oauth2_token_url *url_r,
		       const char **error_r)
{
	struct http_url *parsed;
	const char *error;

	if (strncasecmp(url, "https://", 8) != 0) {
		*error_r = "the token endpoint must be an https:// URL";
		return -1;
	}
	if (strpbrk(url, " \t\r\n") != NULL) {
		*error_r = "the token URL contains a space or line break";
		return -1;
	}
	if (http_url_parse(url, NULL, HTTP_URL_ALLOW_USERINFO_PART,
			   pool_datastack_create(), &parsed, &error) < 0) {
		*error_r = t_strdup_printf("invalid token URL: %s",
					   str_sanitize(error, 100));
		return -1;
	}
	if (parsed->user != NULL || parsed->password != NULL) {
		*error_r = "the token endpoint URL must not hold a user or "
			"password";
		return -1;
	}
	if (parsed->host.name != NULL && parsed->host.name[0] != '\0' &&
	    strspn(parsed->host.name, "abcdefghijklmnopqrstuvwxyz"
		   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") ==
	    strlen(parsed->host.name))
		url_r->host = parsed->host.name;
	else if (parsed->host.ip.family != 0)
		url_r->host = net_ip2addr(&parsed->host.ip);
	else {
		*error_r = "invalid host in the token URL";
		return -1;
	}
	url_r->port = http_url_get_port(parsed);
	return 0;
}

int oauth2_token_url_check(const char *url, const char **error_r)
{
	struct oauth2_token_url parsed;

	return oauth2_token_url_parse(url, &parsed, error_r);
}

int oauth2_token_url_host(const char *url, const char **host_r,
			  const char **error_r)
{
	struct oauth2_token_url parsed;

	if (oauth2_token_url_parse(url, &parsed, error_r) < 0)
		return -1;
	*host_r = parsed.host;
	return 0;
}

static void
oauth2_token_set_error(struct import_remote_error *error_r,
		       enum import_remote_error_code code, const char *detail)
{
	i_zero(error_r);
	import_remote_error_set(error_r, code, detail);
}

/* The one address connected to: resolved here, checked by the guard and
   handed to curl (CURLOPT_RESOLVE), so that curl resolves nothing again */
static int
oauth2_token_resolve(const struct oauth2_token_settings *set,
		     const struct oauth2_token_url *url,
		     const char **resolve_r,
		     struct import_remote_error *error_r)
{
	struct ip_addr *ips, ip;
	unsigned int i, count;
	const char *kind = NULL;
	int ret;

	if (net_addr2ip(url->host, &ip) == 0) {
		ips = &ip;
		count = 1;
	} else {
		ret = net_gethostbyname(url->host, &ips, &count);
		if (ret != 0 || count == 0) {
			oauth2_token_set_error(error_r,
				IMPORT_REMOTE_ERROR_OAUTH2_ENDPOINT_FAILED,
				t_strdup_printf("Token endpoint %s: host not "
					"found: %s", url->host,
					ret != 0 ? net_gethosterror(ret) :
					"no address"));
			return -1;
		}
	}
	for (i = 0; i < count; i++) {
		if (set->guard == NULL ||
		    outbound_guard_allows(set->guard, &ips[i], &kind))
			break;
	}
	if (i == count) {
		oauth2_token_set_error(error_r,
			IMPORT_REMOTE_ERROR_SOURCE_NOT_ALLOWED,
			t_strdup_printf("Token endpoint %s resolves to %s (%s), "
				"which imports may not connect to", url->host,
				net_ip2addr(&ips[0]), kind));
		return -1;
	}
	*resolve_r = t_strdup_printf(IPADDR_IS_V6(&ips[i]) ?
				     "%s:%u:[%s]" : "%s:%u:%s", url->host,
				     url->port, net_ip2addr(&ips[i]));
	return 0;
}

static size_t oauth2_token_write(char *ptr, size_t size, size_t nmemb,
				 void *context)
{
	buffer_t *body = context;
	size_t len = size * nmemb;

	if (body->used + len > OAUTH2_TOKEN_MAX_RESPONSE)
		return 0;
	buffer_append(body, ptr, len);
	return len;
}

#define ANSWER(name, member) \
	OAUTH2_JSON_FIELD(name, struct oauth2_token_answer, member)
static const struct oauth2_json_field oauth2_token_answer_fields[] = {
	ANSWER("access_token", access_token),
	ANSWER("refresh_token", refresh_token),
	ANSWER("token_type", token_type),
	ANSWER("expires_in", expires_in),
	ANSWER("error", error),
	ANSWER("error_description", error_description),
	{ NULL, 0 }
};

/* An error answer (RFC 6749 5.2) classified */
static void
oauth2_token_error_answer(const struct oauth2_token_url *url, long status,
			  const struct oauth2_token_answer *answer,
			  struct import_remote_error *error_r)
{
	enum import_remote_error_code code;
	const char *error = answer->error;
	const char *desc = answer->error_description == NULL ? "" :
		t_strconcat(": ", str_sanitize(answer->error_description,
					       200), NULL);

	if (error == NULL || status >= 500) {
		code = IMPORT_REMOTE_ERROR_OAUTH2_ENDPOINT_FAILED;
		error = "no OAuth2 error";
	} else if (strcmp(error, "invalid_grant") == 0)
		code = IMPORT_REMOTE_ERROR_OAUTH2_GRANT_INVALID;
	else if (strcmp(error, "temporarily_unavailable") == 0 ||
		 strcmp(error, "server_error") == 0)
		code = IMPORT_REMOTE_ERROR_OAUTH2_ENDPOINT_FAILED;
	else {
		/* invalid_client, unauthorized_client, invalid_scope,
		   unsupported_grant_type, invalid_request: the app's
		   settings */
		code = IMPORT_REMOTE_ERROR_OAUTH2_CLIENT_INVALID;
	}
	oauth2_token_set_error(error_r, code, t_strdup_printf(
		"Token endpoint %s: HTTP %ld, %s%s", url->host, status,
		str_sanitize(error, 64), desc));
}

/* POST form to endpoint_url (the token endpoint, or the device
   authorization endpoint: the same rules). Returns 0 with the answer's
   body (wipe it) and HTTP status, or -1 with error_r. */
static int
oauth2_token_post(const struct oauth2_token_settings *set,
		  const char *endpoint_url, string_t *form,
		  struct oauth2_token_url *url_r, buffer_t **body_r,
		  long *status_r, struct import_remote_error *error_r)
{
	struct oauth2_token_url url;
	struct curl_slist *resolve = NULL, *headers = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_blob blob;
	const char *error, *resolve_str;
	buffer_t *body;
	long status = 0;
	CURLcode res;
	CURL *curl;
	int ret = 0;

	if (oauth2_token_url_parse(endpoint_url, &url, &error) < 0) {
		oauth2_token_set_error(error_r,
			IMPORT_REMOTE_ERROR_OAUTH2_CLIENT_INVALID, error);
		return -1;
	}
	if (oauth2_token_resolve(set, &url, &resolve_str, error_r) < 0)
		return -1;

	curl = curl_easy_init();
	if (curl == NULL) {
		oauth2_token_set_error(error_r, IMPORT_REMOTE_ERROR_INTERNAL,
				       "curl_easy_init() failed");
		return -1;
	}
	body = t_buffer_create(1024);
	resolve = curl_slist_append(resolve, resolve_str);
	headers = curl_slist_append(headers, "Accept: application/json");
	curl_easy_setopt(curl, CURLOPT_URL, endpoint_url);
	curl_easy_setopt(curl, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	/* no proxy from the environment: it would connect elsewhere */
	curl_easy_setopt(curl, CURLOPT_PROXY, "");
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (set->ca_file != NULL && set->ca_file[0] != '\0')
		curl_easy_setopt(curl, CURLOPT_CAINFO, set->ca_file);
	if (set->ca_content != NULL && set->ca_content[0] != '\0') {
		blob.data = (void *)set->ca_content;
		blob.len = strlen(set->ca_content);
		blob.flags = CURL_BLOB_COPY;
		curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (set->ca_dir != NULL && set->ca_dir[0] != '\0')
		curl_easy_setopt(curl, CURLOPT_CAPATH, set->ca_dir);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, str_c(form));
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)str_len(form));
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "dovecot-import-remote");
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)(set->timeout_msecs == 0 ?
		OAUTH2_TOKEN_DEFAULT_TIMEOUT_MSECS : set->timeout_msecs));
	curl_easy_setopt(curl, CURLOPT_MAXFILESIZE, (long)OAUTH2_TOKEN_MAX_RESPONSE);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, oauth2_token_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);

	e_debug(set->event, "OAuth2: POST %s (grant for client %s)",
		str_sanitize(endpoint_url, 200),
		str_sanitize(set->client_id, 100));
	res = curl_easy_perform(curl);
	if (res == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(resolve);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	safe_memset(str_c_modifiable(form), 0, str_len(form));

	if (res == CURLE_PEER_FAILED_VERIFICATION ||
	    res == CURLE_SSL_CONNECT_ERROR || res == CURLE_SSL_CACERT_BADFILE) {
		oauth2_token_set_error(error_r, IMPORT_REMOTE_ERROR_TLS_FAILED,
			t_strdup_printf("Token endpoint %s: %s", url.host,
				errbuf[0] != '\0' ? errbuf :
				curl_easy_strerror(res)));
		ret = -1;
	} else if (res == CURLE_WRITE_ERROR ||
		   res == CURLE_FILESIZE_EXCEEDED) {
		oauth2_token_set_error(error_r,
			IMPORT_REMOTE_ERROR_OAUTH2_ENDPOINT_FAILED,
			t_strdup_printf("Token endpoint %s: answer larger than "
				"%u bytes", url.host, OAUTH2_TOKEN_MAX_RESPONSE));
		ret = -1;
	} else if (res != CURLE_OK) {
		oauth2_token_set_error(error_r,
			IMPORT_REMOTE_ERROR_OAUTH2_ENDPOINT_FAILED,
			t_strdup_printf("Token endpoint %s: %s", url.host,
				errbuf[0] != '\0' ? errbuf :
				curl_easy_strerror(res)));
		ret = -1;
	}
	if (ret < 0) {
		safe_memset(buffer_get_modifiable_data(body, NULL), 0,
			    body->used);
		return -1;
	}
	*url_r = url;
	*body_r = body;
	*status_r = status;
	return 0;
}

static int
oauth2_token_request_full(const struct oauth2_token_settings *set,
			  string_t *form, pool_t pool,
			  struct oauth2_token_result *result_r,
			  const char **oauth2_error_r,
			  struct import_remote_error *error_r)
{
	struct oauth2_token_url url;
	struct oauth2_token_answer answer;
	const char *error;
	buffer_t *body;
	unsigned int expires_in = 0;
	long status;
	int ret;

	if (oauth2_token_post(set, set->token_url, form, &url, &body,
			      &status, error_r) < 0)
		return -1;

	i_zero(&answer);
	ret = oauth2_json_parse_flat(body->data, body->used,
				     OAUTH2_TOKEN_MAX_TOKEN, 0,
				     oauth2_token_answer_fields, &answer,
				     &error);
	safe_memset(buffer_get_modifiable_data(body, NULL), 0, body->used);
	if (ret < 0 && status >= 200 && status < 300) {
		oauth2_token_set_error(error_r,
			IMPORT_REMOTE_ERROR_OAUTH2_ENDPOINT_FAILED,
			t_strdup_printf("Token endpoint %s: HTTP %ld, the "
				"answer is not a JSON object: %s", url.host,
				status, error));
		return -1;
	}
	if (status < 200 || status >= 300) {
		if (ret < 0)
			i_zero(&answer);
		if (oauth2_error_r != NULL && status < 500 &&
		    answer.error != NULL)
			*oauth2_error_r = answer.error;
		oauth2_token_error_answer(&url, status, &answer, error_r);
		return -1;
	}
	if (answer.access_token == NULL || answer.access_token[0] == '\0' ||
	    strpbrk(answer.access_token, " ?") != NULL ||
	    (answer.refresh_token != NULL &&
	     (answer.refresh_token[0] == '\0' ||
	      strpbrk(answer.refresh_token, " ?") != NULL))) {
		oauth2_token_set_error(error_r,
			IMPORT_REMOTE_ERROR_OAUTH2_ENDPOINT_FAILED,
			t_strdup_printf("Token endpoint %s: HTTP %ld without "
				"a usable access_token", url.host, status));
		return -1;
	}
	if (answer.token_type != NULL &&
	    strcasecmp(answer.token_type, "bearer") != 0) {
		oauth2_token_set_error(error_r,
			IMPORT_REMOTE_ERROR_OAUTH2_ENDPOINT_FAILED,
			t_strdup_printf("Token endpoint %s: token_type %s, "
				"not Bearer", url.host,
				str_sanitize(answer.token_type, 32)));
		return -1;
	}
	if (answer.expires_in != NULL &&
	    str_to_uint(answer.expires_in, &expires_in) < 0)
		expires_in = 0;

	i_zero(result_r);
	result_r->access_token = p_strdup(pool, answer.access_token);
	result_r->refresh_token = p_strdup(pool, answer.refresh_token);
	result_r->expires_in = expires_in;
	e_debug(set->event, "OAuth2: got an access token for %u s%s",
		expires_in, answer.refresh_token != NULL ?
		", and a new refresh token" : "");
	return 0;
}

static int
oauth2_token_request(const struct oauth2_token_settings *set,
		     string_t *form, pool_t pool,
		     struct oauth2_token_result *result_r,
		     struct import_remote_error *error_r)
{
	return oauth2_token_request_full(set, form, pool, result_r, NULL,
					 error_r);
}

static void form_append(string_t *form, const char *key, const char *value)
{
	const char *p;

	if (str_len(form) > 0)
		str_append_c(form, '&');
	str_append(form, key);
	str_append_c(form, '=');
	/* application/x-www-form-urlencoded */
	for (p = value; *p != '\0'; p++) {
		if (i_isalnum(*p) || *p == '-' || *p == '.' || *p == '_' ||
		    *p == '~')
			str_append_c(form, *p);
		else if (*p == ' ')
			str_append_c(form, '+');
		else
			str_printfa(form, "%%%02X", (unsigned char)*p);
	}
}

int oauth2_token_refresh(const struct oauth2_token_settings *set,
			 const char *refresh_token, pool_t pool,
			 struct oauth2_token_result *result_r,
			 struct import_remote_error *error_r)
{
	string_t *form = t_str_new(512);

	form_append(form, "grant_type", "refresh_token");
	form_append(form, "refresh_token", refresh_token);
	form_append(form, "client_id", set->client_id);
	if (set->client_secret != NULL)
		form_append(form, "client_secret", set->client_secret);
	if (set->scope != NULL)
		form_append(form, "scope", set->scope);
	return oauth2_token_request(set, form, pool, result_r, error_r);
}

/* Microsoft's certificate credentials: a client assertion, valid for
   10 minutes, instead of the client secret */
#define OAUTH2_CLIENT_ASSERTION_LIFETIME_SECS 600
static int
oauth2_token_client_assertion(const struct oauth2_token_settings *set,
			      string_t *form,
			      struct import_remote_error *error_r)
{
	string_t *jwt = t_str_new(1024);
	const char *header, *claims, *error;

	if (set->client_key == NULL)
		error = "the certificate credential has no private key";
	else if ((header = oauth2_jwt_client_assertion_header(
			set->client_certificate, &error)) != NULL) {
		claims = oauth2_jwt_client_assertion_claims(set->client_id,
			set->token_url, time(NULL),
			OAUTH2_CLIENT_ASSERTION_LIFETIME_SECS);
		if (oauth2_jwt_sign_rs256_header(set->client_key, header,
						 claims, jwt, &error) == 0) {
			form_append(form, "client_assertion_type",
				"urn:ietf:params:oauth:client-assertion-type:"
				"jwt-bearer");
			form_append(form, "client_assertion", str_c(jwt));
			safe_memset(str_c_modifiable(jwt), 0, str_len(jwt));
			return 0;
		}
	}
	oauth2_token_set_error(error_r,
		IMPORT_REMOTE_ERROR_OAUTH2_CLIENT_INVALID,
		t_strdup_printf("Client %s's certificate credential: %s",
				str_sanitize(set->client_id, 100), error));
	return -1;
}

int oauth2_token_client_credentials(const struct oauth2_token_settings *set,
				    pool_t pool,
				    struct oauth2_token_result *result_r,
				    struct import_remote_error *error_r)
{
	string_t *form = t_str_new(2048);
	int ret;

	form_append(form, "grant_type", "client_credentials");
	form_append(form, "client_id", set->client_id);
	if (set->client_certificate != NULL) {
		if (oauth2_token_client_assertion(set, form, error_r) < 0)
			return -1;
	} else if (set->client_secret != NULL)
		form_append(form, "client_secret", set->client_secret);
	if (set->scope != NULL)
		form_append(form, "scope", set->scope);
	ret = oauth2_token_request(set, form, pool, result_r, error_r);
	safe_memset(str_c_modifiable(form), 0, str_len(form));
	return ret;
}

#define ACCOUNT(name, member) \
	OAUTH2_JSON_FIELD(name, struct oauth2_service_account, member)
static const struct oauth2_json_field oauth2_service_account_fields[] = {
	ACCOUNT("client_email", client_email),
	ACCOUNT("private_key", private_key),
	ACCOUNT("token_uri", token_uri),
	{ NULL, 0 }
};

int oauth2_service_account_parse(const char *json, pool_t pool,
				 struct oauth2_service_account *account_r,
				 const char **error_r)
{
	struct oauth2_service_account account;
	const char *error;

	i_zero(&account);
	if (oauth2_json_parse_flat((const unsigned char *)json, strlen(json),
				   OAUTH2_TOKEN_MAX_TOKEN,
				   OAUTH2_JSON_FLAG_NEWLINES,
				   oauth2_service_account_fields, &account,
				   &error) < 0) {
		*error_r = t_strdup_printf("not a service account key file "
					   "(JSON): %s", error);
		return -1;
	}
	if (account.client_email == NULL || account.private_key == NULL) {
		*error_r = "the service account key file has no client_email "
			"or private_key";
		return -1;
	}
	if (strpbrk(account.client_email, "\r\n") != NULL ||
	    (account.token_uri != NULL &&
	     strpbrk(account.token_uri, "\r\n") != NULL)) {
		*error_r = "invalid client_email or token_uri in the service "
			"account key file";
		return -1;
	}
	account_r->client_email = p_strdup(pool, account.client_email);
	account_r->private_key = p_strdup(pool, account.private_key);
	account_r->token_uri = p_strdup(pool, account.token_uri);
	safe_memset((char *)account.private_key, 0,
		    strlen(account.private_key));
	return 0;
}

int oauth2_token_jwt_bearer(const struct oauth2_token_settings *set,
			    const struct oauth2_service_account *account,
			    const char *user, pool_t pool,
			    struct oauth2_token_result *result_r,
			    struct import_remote_error *error_r)
{
	string_t *form = t_str_new(2048), *jwt = t_str_new(1024);
	const char *claims, *error;

	/* an hour, the longest Google takes */
	claims = oauth2_jwt_bearer_claims(account->client_email, user,
					  set->scope, set->token_url,
					  time(NULL), 3600);
	if (oauth2_jwt_sign_rs256(account->private_key, claims, jwt,
				  &error) < 0) {
		oauth2_token_set_error(error_r,
			IMPORT_REMOTE_ERROR_OAUTH2_CLIENT_INVALID,
			t_strdup_printf(IMPORT_REMOTE_DETAIL_SERVICE_ACCOUNT
					" %s: %s",
				str_sanitize(account->client_email, 100),
				error));
		return -1;
	}
	form_append(form, "grant_type",
		    "urn:ietf:params:oauth:grant-type:jwt-bearer");
	form_append(form, "assertion", str_c(jwt));
	safe_memset(str_c_modifiable(jwt), 0, str_len(jwt));
	return oauth2_token_request(set, form, pool, result_r, error_r);
}

struct oauth2_device_answer {
	const char *device_code, *user_code;
	const char *verification_uri, *verification_uri_complete;
	const char *expires_in, *interval;
	const char *error, *error_description;
};

#define DEVICE(name, member) \
	OAUTH2_JSON_FIELD(name, struct oauth2_device_answer, member)
static const struct oauth2_json_field oauth2_device_answer_fields[] = {
	DEVICE("device_code", device_code),
	DEVICE("user_code", user_code),
	DEVICE("verification_uri", verification_uri),
	/* Google's name for it */
	DEVICE("verification_url", verification_uri),
	DEVICE("verification_uri_complete", verification_uri_complete),
	DEVICE("expires_in", expires_in),
	DEVICE("interval", interval),
	DEVICE("error", error),
	DEVICE("error_description", error_description),
	{ NULL, 0 }
};

static bool oauth2_device_text_ok(const char *text, size_t max_len)
{
	const char *p;

	if (text == NULL || text[0] == '\0' || strlen(text) > max_len)
		return FALSE;
	for (p = text; *p != '\0'; p++) {
		/* printable ASCII, no space: shown to a person, sent back */
		if (*p <= ' ' || *p >= 0x7f)
			return FALSE;
	}
	return TRUE;
}

int oauth2_device_authorize(const struct oauth2_token_settings *set,
			    const char *device_url, pool_t pool,
			    struct oauth2_device_code *code_r,
			    struct import_remote_error *error_r)
{
	struct oauth2_token_url url;
	struct oauth2_device_answer answer;
	string_t *form = t_str_new(256);
	const char *error;
	buffer_t *body;
	unsigned int num;
	long status;
	int ret;

	form_append(form, "client_id", set->client_id);
	if (set->scope != NULL)
		form_append(form, "scope", set->scope);
	if (oauth2_token_post(set, device_url, form, &url, &body, &status,
			      error_r) < 0)
		return -1;
	i_zero(&answer);
	ret = oauth2_json_parse_flat(body->data, body->used,
				     OAUTH2_TOKEN_MAX_TOKEN, 0,
				     oauth2_device_answer_fields, &answer,
				     &error);
	safe_memset(buffer_get_modifiable_data(body, NULL), 0, body->used);
	if (status < 200 || status >= 300) {
		struct oauth2_token_answer terr;

		i_zero(&terr);
		if (ret == 0) {
			terr.error = answer.error;
			terr.error_description = answer.error_description;
		}
		oauth2_token_error_answer(&url, status, &terr, error_r);
		return -1;
	}
	if (ret < 0) {
		oauth2_token_set_error(error_r,
			IMPORT_REMOTE_ERROR_OAUTH2_ENDPOINT_FAILED,
			t_strdup_printf("Device endpoint %s: HTTP %ld, the "
				"answer is not a JSON object: %s", url.host,
				status, error));
		return -1;
	}
	if (!oauth2_device_text_ok(answer.device_code, OAUTH2_TOKEN_MAX_TOKEN) ||
	    !oauth2_device_text_ok(answer.user_code, 64) ||
	    !oauth2_device_text_ok(answer.verification_uri, 512) ||
	    strncasecmp(answer.verification_uri, "https://", 8) != 0 ||
	    (answer.verification_uri_complete != NULL &&
	     (!oauth2_device_text_ok(answer.verification_uri_complete, 1024) ||
	      strncasecmp(answer.verification_uri_complete, "https://", 8) != 0))) {
		oauth2_token_set_error(error_r,
			IMPORT_REMOTE_ERROR_OAUTH2_ENDPOINT_FAILED,
			t_strdup_printf("Device endpoint %s: HTTP %ld without "
				"a usable device_code, user_code and https "
				"verification_uri", url.host, status));
		return -1;
	}
	i_zero(code_r);
	code_r->device_code = p_strdup(pool, answer.device_code);
	code_r->user_code = p_strdup(pool, answer.user_code);
	code_r->verification_uri = p_strdup(pool, answer.verification_uri);
	code_r->verification_uri_complete =
		p_strdup(pool, answer.verification_uri_complete);
	/* RFC 8628 3.2: expires_in required, interval default 5 */
	code_r->expires_in = 1800;
	if (answer.expires_in != NULL &&
	    str_to_uint(answer.expires_in, &num) == 0 && num > 0)
		code_r->expires_in = I_MIN(num, OAUTH2_DEVICE_MAX_EXPIRES);
	code_r->interval = OAUTH2_DEVICE_DEFAULT_INTERVAL;
	if (answer.interval != NULL &&
	    str_to_uint(answer.interval, &num) == 0 && num > 0)
		code_r->interval = I_MIN(num, OAUTH2_DEVICE_MAX_INTERVAL);
	safe_memset((char *)answer.device_code, 0, strlen(answer.device_code));
	return 0;
}

int oauth2_device_poll(const struct oauth2_token_settings *set,
		       const char *device_code, pool_t pool,
		       struct oauth2_token_result *result_r,
		       struct import_remote_error *error_r)
{
	string_t *form = t_str_new(512);
	const char *oauth2_error = NULL;

	form_append(form, "grant_type",
		    "urn:ietf:params:oauth:grant-type:device_code");
	form_append(form, "device_code", device_code);
	form_append(form, "client_id", set->client_id);
	if (set->client_secret != NULL)
		form_append(form, "client_secret", set->client_secret);
	if (oauth2_token_request_full(set, form, pool, result_r,
				      &oauth2_error, error_r) == 0)
		return 0;
	if (oauth2_error == NULL)
		return -1;
	/* RFC 8628 3.5 */
	if (strcmp(oauth2_error, "authorization_pending") == 0)
		return 1;
	if (strcmp(oauth2_error, "slow_down") == 0)
		return 2;
	if (strcmp(oauth2_error, "access_denied") == 0)
		error_r->code = IMPORT_REMOTE_ERROR_OAUTH2_ACCESS_DENIED;
	else if (strcmp(oauth2_error, "expired_token") == 0)
		error_r->code = IMPORT_REMOTE_ERROR_OAUTH2_DEVICE_EXPIRED;
	return -1;
}
