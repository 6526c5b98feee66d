/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "base64.h"
#include "net.h"
#include "test-common.h"
#include "oauth2-sasl.h"
#include "oauth2-jwt.h"
#include "import-remote-settings.h"

static const char *b64(const char *text)
{
	string_t *str = t_str_new(128);

	base64_encode(text, strlen(text), str);
	return str_c(str);
}

static void test_oauth2_sasl_initial_response(void)
{
	string_t *str = t_str_new(128);

	test_begin("oauth2 sasl initial response");
	oauth2_sasl_initial_response(OAUTH2_SASL_XOAUTH2, "alice@example.com",
				     "ya29.tok", "imap.example.com", 993, str);
	test_assert_strcmp(str_c(str), "user=alice@example.com\001"
			   "auth=Bearer ya29.tok\001\001");
	str_truncate(str, 0);
	oauth2_sasl_initial_response(OAUTH2_SASL_OAUTHBEARER, "a,b=c@x",
				     "tok", "imap.example.com", 143, str);
	/* RFC 7628 3.1: the GS2 header's authzid escaped (RFC 5801) */
	test_assert_strcmp(str_c(str), "n,a=a=2Cb=3Dc@x,\001"
			   "host=imap.example.com\001port=143\001"
			   "auth=Bearer tok\001\001");
	test_assert_strcmp(oauth2_sasl_abort_response(OAUTH2_SASL_XOAUTH2), "");
	test_assert_strcmp(oauth2_sasl_abort_response(OAUTH2_SASL_OAUTHBEARER),
			   "AQ==");
	test_end();
}

static void test_oauth2_sasl_challenge(void)
{
	struct oauth2_sasl_error error;
	const char *perr;

	test_begin("oauth2 sasl challenge");
	/* Google's XOAUTH2 */
	test_assert(oauth2_sasl_parse_challenge(b64(
		"{\"status\":\"400\",\"schemes\":\"Bearer\","
		"\"scope\":\"https://mail.google.com/\"}"), &error, &perr) == 0);
	test_assert_strcmp(error.status, "400");
	test_assert_strcmp(error.scope, "https://mail.google.com/");
	test_assert_strcmp(error.schemes, "Bearer");
	test_assert(!oauth2_sasl_error_is_scope(&error));
	test_assert_strcmp(oauth2_sasl_error_str(&error),
			   "status=400 scope=https://mail.google.com/");

	/* RFC 7628 3.2.2's, with whitespace, a number, an unknown key */
	test_assert(oauth2_sasl_parse_challenge(b64(
		" { \"status\" : \"insufficient_scope\", \"n\": 12,"
		" \"x\": null, \"scope\":\"a b\",\"openid-configuration\":"
		"\"https://e/.well-known/openid-configuration\" }\n"),
		&error, &perr) == 0);
	test_assert_strcmp(error.status, "insufficient_scope");
	test_assert(oauth2_sasl_error_is_scope(&error));
	test_assert_strcmp(error.scope, "a b");
	test_assert_strcmp(error.openid_configuration,
			   "https://e/.well-known/openid-configuration");

	/* escapes; controls and 8-bit become '?' */
	test_assert(oauth2_sasl_parse_challenge(b64(
		"{\"status\":\"a\\\"b\\n\\u0041\\u00e9\xc3\xa9\"}"),
		&error, &perr) == 0);
	/* (a character, not each of its bytes, is one ?) */
	test_assert_strcmp(error.status, "a\"b?A??");
	test_assert(error.scope == NULL);

	/* hostile or broken */
	test_assert(oauth2_sasl_parse_challenge("", &error, &perr) < 0);
	test_assert(oauth2_sasl_parse_challenge("!!!", &error, &perr) < 0);
	test_assert(oauth2_sasl_parse_challenge(b64("[1]"), &error, &perr) < 0);
	/* an object or an array as a member's value is passed over */
	test_assert(oauth2_sasl_parse_challenge(b64("{\"status\":{\"a\":[1]},"
		"\"scope\":\"s\"}"), &error, &perr) == 0);
	test_assert(error.status == NULL);
	test_assert_strcmp(error.scope, "s");
	test_assert(oauth2_sasl_parse_challenge(b64("{\"status\":\"x"),
						&error, &perr) < 0);
	test_assert(oauth2_sasl_parse_challenge(b64("{\"a\":\"b\"} x"),
						&error, &perr) < 0);
	test_assert(oauth2_sasl_parse_challenge(b64("{\"a\" \"b\"}"),
						&error, &perr) < 0);
	/* a NUL in a string: refused by Dovecot's parser */
	test_assert(oauth2_sasl_parse_challenge(b64("{\"status\":\"a\\u0000b\"}"),
						&error, &perr) < 0);
	/* numbers as text; one too big for 64 bits: text (2.3) or refused
	   (2.4) */
	test_assert(oauth2_sasl_parse_challenge(b64("{\"status\":-12}"),
						&error, &perr) == 0);
	test_assert_strcmp(error.status, "-12");
	if (oauth2_sasl_parse_challenge(b64("{\"scope\":123456789012345678901234567890}"),
					&error, &perr) == 0)
		test_assert_strcmp(error.scope, "123456789012345678901234567890");
	/* a raw control character: refused by the parser, or read as '?' */
	if (oauth2_sasl_parse_challenge(b64("{\"status\":\"\x01\"}"),
					&error, &perr) == 0)
		test_assert_strcmp(error.status, "?");
	test_end();
}

static void test_oauth2_sasl_challenge_bounds(void)
{
	struct oauth2_sasl_error error;
	string_t *json = t_str_new(8192);
	const char *perr;
	unsigned int i;

	test_begin("oauth2 sasl challenge bounds");
	str_append(json, "{\"status\":\"");
	for (i = 0; i < 2000; i++)
		str_append_c(json, 'x');
	str_append(json, "\"}");
	test_assert(oauth2_sasl_parse_challenge(b64(str_c(json)),
						&error, &perr) == 0);
	test_assert(strlen(error.status) == OAUTH2_SASL_MAX_FIELD);

	str_truncate(json, 0);
	str_append(json, "{\"status\":\"");
	for (i = 0; i < 7000; i++)
		str_append_c(json, 'x');
	str_append(json, "\"}");
	test_assert(oauth2_sasl_parse_challenge(b64(str_c(json)),
						&error, &perr) < 0);
	test_assert_strcmp(perr, "challenge too long");
	test_end();
}

static void test_oauth2_secret_bundle(void)
{
	struct import_remote_settings set, set2;
	const char *secret, *error;
	pool_t pool = pool_alloconly_create("test", 1024);

	test_begin("oauth2 grant secrets as a job's secret");
	import_remote_settings_init(pool, &set);
	set.password = "plain\001oauth2";
	test_assert_strcmp(import_remote_settings_export_secret(&set),
			   "plain\001oauth2");
	set.password = NULL;
	set.oauth2_grant = IMPORT_REMOTE_OAUTH2_GRANT_REFRESH_TOKEN;
	set.oauth2_refresh_token = "rt\twith=tab";
	set.oauth2_client_secret = "s3cret";
	set.oauth2_service_account = "{\n\"a\": \"b\"\n}";
	set.oauth2_client_certificate = "-----BEGIN CERTIFICATE-----\nMIIB\n";
	set.oauth2_client_key = "-----BEGIN PRIVATE KEY-----\nMIIE\t\n";
	secret = import_remote_settings_export_secret(&set);

	import_remote_settings_init(pool, &set2);
	set2.oauth2_grant = IMPORT_REMOTE_OAUTH2_GRANT_REFRESH_TOKEN;
	test_assert(import_remote_settings_import_secret(pool, secret, &set2,
							 &error) == 0);
	test_assert_strcmp(set2.oauth2_refresh_token, "rt\twith=tab");
	test_assert_strcmp(set2.oauth2_client_secret, "s3cret");
	test_assert_strcmp(set2.oauth2_service_account, set.oauth2_service_account);
	test_assert_strcmp(set2.oauth2_client_certificate,
			   set.oauth2_client_certificate);
	test_assert_strcmp(set2.oauth2_client_key, set.oauth2_client_key);
	test_assert(set2.password == NULL);

	/* a grant's secret where the job says password, and the reverse:
	   the store was changed */
	import_remote_settings_init(pool, &set2);
	test_assert(import_remote_settings_import_secret(pool, secret, &set2,
							 &error) < 0);
	set2.oauth2_grant = IMPORT_REMOTE_OAUTH2_GRANT_JWT_BEARER;
	test_assert(import_remote_settings_import_secret(pool, "password",
							 &set2, &error) < 0);
	pool_unref(&pool);
	test_end();
}

static void test_oauth2_jwt_claims(void)
{
	test_begin("oauth2 jwt bearer claims");
	test_assert_strcmp(oauth2_jwt_bearer_claims("sa@p.iam", "a\"b@x",
			"https://mail.google.com/", "https://t/token", 1000, 3600),
		"{\"iss\":\"sa@p.iam\",\"sub\":\"a\\\"b@x\","
		"\"scope\":\"https://mail.google.com/\","
		"\"aud\":\"https://t/token\",\"iat\":1000,\"exp\":4600}");
	test_end();
}

/* a test certificate (self-signed, RSA 1024; its key thrown away) and its
   thumbprints as openssl computes them */
static const char test_cert[] =
"-----BEGIN CERTIFICATE-----\n"
"MIIB/DCCAWWgAwIBAgIUWTcqKCBIln03kXk4IEOyjJFkzU0wDQYJKoZIhvcNAQEL\n"
"BQAwDzENMAsGA1UEAwwEdW5pdDAgFw0yNjEyMDYwNjQwMzVaGA8yMTI2MTExMjA2\n"
"NDAzNVowDzENMAsGA1UEAwwEdW5pdDCBnzANBgkqhkiG9w0BAQEFAAOBjQAwgYkC\n"
"gYEA5KnZu+WUTWZNQxpjcwHlKR70gWWBVSWAm++BGev0gAWFIiesvqZ0JFj7Z17x\n"
"ijPvHqGUYVCJ0+Y0KoEjZptvAL0I0jNYdAUZiaTXqe0H11bQBSqnQeG5tv5gsF9k\n"
"Hi8Xy0MwATSAAdZPPGacjtFb0GLTG+YJLksRVwJqkCojaw0CAwEAAaNTMFEwHQYD\n"
"VR0OBBYEFJnFARkGQNZLNVsVlYgH6thxjNGvMB8GA1UdIwQYMBaAFJnFARkGQNZL\n"
"NVsVlYgH6thxjNGvMA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADgYEA\n"
"r4yMsPttGKsVFpcAelsf2VX/c3T6X4Y3Kub3PJuDZswe68vVs6Yz6P32fyhlDXz8\n"
"wCNofnKcE5z8BbVvmY72AKjFAiRUoCc/Ime3JXl7ByNL5Q1QeOjqLyg9imVwDEZZ\n"
"8L6Q593J7dSObmol2usGA4S2W6UpL7BFgV1wX+H9ftU=\n"
"-----END CERTIFICATE-----\n";

static void test_oauth2_client_assertion(void)
{
	static const char prefix[] =
		"{\"aud\":\"https://login.example/t/oauth2/v2.0/token\","
		"\"iss\":\"app-id\",\"sub\":\"app-id\",\"jti\":\"";
	static const char suffix[] =
		"\",\"nbf\":1000,\"iat\":1000,\"exp\":1600}";
	const char *header, *claims, *claims2, *error;

	test_begin("oauth2 client assertion (certificate credential)");
	header = oauth2_jwt_client_assertion_header(test_cert, &error);
	test_assert_strcmp(header, "{\"alg\":\"RS256\",\"typ\":\"JWT\","
		"\"x5t\":\"PEnvFeSB6ovfeb-7pAZnH8LyyTw\","
		"\"x5t#S256\":\"Hg44EYso1DWholwrkkuiqm3AUXjiseQrdGh5GwCe-rQ\"}");
	test_assert(oauth2_jwt_client_assertion_header("not a certificate",
						       &error) == NULL);
	claims = oauth2_jwt_client_assertion_claims("app-id",
		"https://login.example/t/oauth2/v2.0/token", 1000, 600);
	test_assert(strncmp(claims, prefix, strlen(prefix)) == 0);
	test_assert(strlen(claims) > strlen(prefix) + strlen(suffix) &&
		    strcmp(claims + strlen(claims) - strlen(suffix),
			   suffix) == 0);
	/* a jti of its own each time */
	claims2 = oauth2_jwt_client_assertion_claims("app-id",
		"https://login.example/t/oauth2/v2.0/token", 1000, 600);
	test_assert(strcmp(claims, claims2) != 0);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_oauth2_sasl_initial_response,
		test_oauth2_sasl_challenge,
		test_oauth2_sasl_challenge_bounds,
		test_oauth2_secret_bundle,
		test_oauth2_jwt_claims,
		test_oauth2_client_assertion,
		NULL
	};
	return test_run(test_functions);
}
