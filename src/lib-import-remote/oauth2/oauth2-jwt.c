/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "base64.h"
#include "import-remote-compat.h"
#include "oauth2-jwt.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/bio.h>

static void jwt_append_b64url(string_t *dest, const void *data, size_t size)
{
	base64url_encode(BASE64_ENCODE_FLAG_NO_PADDING, 0, data, size, dest);
}

int oauth2_jwt_sign_rs256(const char *private_key_pem,
			  const char *claims_json, string_t *dest,
			  const char **error_r)
{
	static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
	EVP_PKEY *pkey;
	EVP_MD_CTX *md;
	BIO *bio;
	unsigned char *sig;
	size_t sig_len = 0, start = str_len(dest);
	int ret = -1;

	bio = BIO_new_mem_buf(private_key_pem, -1);
	if (bio == NULL) {
		*error_r = "BIO_new_mem_buf() failed";
		return -1;
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
	BIO_free(bio);
	if (pkey == NULL) {
		*error_r = "the private key is not a PEM private key";
		return -1;
	}
	if (EVP_PKEY_base_id(pkey) != EVP_PKEY_RSA) {
		EVP_PKEY_free(pkey);
		*error_r = "the private key is not an RSA key (RS256)";
		return -1;
	}

	jwt_append_b64url(dest, header, strlen(header));
	str_append_c(dest, '.');
	jwt_append_b64url(dest, claims_json, strlen(claims_json));

	md = EVP_MD_CTX_new();
	if (md != NULL &&
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
	    EVP_DigestSignUpdate(md, str_data(dest) + start,
				 str_len(dest) - start) == 1 &&
	    EVP_DigestSignFinal(md, NULL, &sig_len) == 1) {
		sig = t_malloc0(sig_len);
		if (EVP_DigestSignFinal(md, sig, &sig_len) == 1) {
			str_append_c(dest, '.');
			jwt_append_b64url(dest, sig, sig_len);
			ret = 0;
		}
	}
	if (ret < 0) {
		str_truncate(dest, start);
		*error_r = "signing the JWT failed";
	}
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pkey);
	return ret;
}

static void jwt_claim(string_t *dest, const char *key, const char *value)
{
	if (str_len(dest) > 1)
		str_append_c(dest, ',');
	str_printfa(dest, "\"%s\":\"", key);
	import_remote_compat_json_append_escaped(dest, value);
	str_append_c(dest, '"');
}

const char *oauth2_jwt_bearer_claims(const char *iss, const char *sub,
				     const char *scope, const char *aud,
				     time_t now, unsigned int lifetime_secs)
{
	string_t *str = t_str_new(256);

	str_append_c(str, '{');
	jwt_claim(str, "iss", iss);
	if (sub != NULL)
		jwt_claim(str, "sub", sub);
	if (scope != NULL)
		jwt_claim(str, "scope", scope);
	jwt_claim(str, "aud", aud);
	str_printfa(str, ",\"iat\":%ld,\"exp\":%ld}", (long)now,
		    (long)(now + lifetime_secs));
	return str_c(str);
}
