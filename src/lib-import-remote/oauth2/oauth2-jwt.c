/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "base64.h"
#include "randgen.h"
#include "import-remote-compat.h"
#include "oauth2-jwt.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/bio.h>
#include <openssl/x509.h>

static void jwt_append_b64url(string_t *dest, const void *data, size_t size)
{
	base64url_encode(BASE64_ENCODE_FLAG_NO_PADDING, 0, data, size, dest);
}

int oauth2_jwt_sign_rs256(const char *private_key_pem,
			  const char *claims_json, string_t *dest,
			  const char **error_r)
{
	return oauth2_jwt_sign_rs256_header(private_key_pem,
		"{\"alg\":\"RS256\",\"typ\":\"JWT\"}", claims_json, dest,
		error_r);
}

int oauth2_jwt_sign_rs256_header(const char *private_key_pem,
				 const char *header, const char *claims_json,
				 string_t *dest, const char **error_r)
{
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

static X509 *oauth2_jwt_cert_read(const char *cert_pem, const char **error_r)
{
	X509 *cert;
	BIO *bio;

	bio = BIO_new_mem_buf(cert_pem, -1);
	if (bio == NULL) {
		*error_r = "BIO_new_mem_buf() failed";
		return NULL;
	}
	cert = PEM_read_bio_X509(bio, NULL, NULL, (void *)"");
	BIO_free(bio);
	if (cert == NULL)
		*error_r = "the certificate is not a PEM X.509 certificate";
	return cert;
}

int oauth2_jwt_cert_check(const char *cert_pem, const char *private_key_pem,
			  const char **error_r)
{
	EVP_PKEY *pkey;
	X509 *cert;
	BIO *bio;
	int ret = 0;

	if ((cert = oauth2_jwt_cert_read(cert_pem, error_r)) == NULL)
		return -1;
	bio = BIO_new_mem_buf(private_key_pem, -1);
	pkey = bio == NULL ? NULL :
		PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
	BIO_free(bio);
	if (pkey == NULL) {
		*error_r = "the private key is not a PEM private key "
			"(unencrypted)";
		ret = -1;
	} else if (EVP_PKEY_base_id(pkey) != EVP_PKEY_RSA) {
		*error_r = "the private key is not an RSA key (RS256)";
		ret = -1;
	} else if (X509_check_private_key(cert, pkey) != 1) {
		*error_r = "the private key is not the certificate's";
		ret = -1;
	}
	EVP_PKEY_free(pkey);
	X509_free(cert);
	return ret;
}

const char *oauth2_jwt_client_assertion_header(const char *cert_pem,
					       const char **error_r)
{
	unsigned char sha1[EVP_MAX_MD_SIZE], sha256[EVP_MAX_MD_SIZE];
	unsigned int sha1_len = 0, sha256_len = 0;
	string_t *str;
	X509 *cert;
	int ok;

	if ((cert = oauth2_jwt_cert_read(cert_pem, error_r)) == NULL)
		return NULL;
	/* the thumbprints are digests of the certificate's DER encoding */
	ok = X509_digest(cert, EVP_sha1(), sha1, &sha1_len) == 1 &&
		X509_digest(cert, EVP_sha256(), sha256, &sha256_len) == 1;
	X509_free(cert);
	if (!ok) {
		*error_r = "the certificate's thumbprint could not be computed";
		return NULL;
	}
	str = t_str_new(160);
	str_append(str, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5t\":\"");
	jwt_append_b64url(str, sha1, sha1_len);
	str_append(str, "\",\"x5t#S256\":\"");
	jwt_append_b64url(str, sha256, sha256_len);
	str_append(str, "\"}");
	return str_c(str);
}

const char *oauth2_jwt_client_assertion_claims(const char *client_id,
					       const char *aud, time_t now,
					       unsigned int lifetime_secs)
{
	unsigned char rand_bytes[16];
	string_t *str = t_str_new(256), *jti = t_str_new(32);

	random_fill(rand_bytes, sizeof(rand_bytes));
	jwt_append_b64url(jti, rand_bytes, sizeof(rand_bytes));

	str_append_c(str, '{');
	jwt_claim(str, "aud", aud);
	jwt_claim(str, "iss", client_id);
	jwt_claim(str, "sub", client_id);
	jwt_claim(str, "jti", str_c(jti));
	str_printfa(str, ",\"nbf\":%ld,\"iat\":%ld,\"exp\":%ld}",
		    (long)now, (long)now, (long)(now + lifetime_secs));
	return str_c(str);
}
