#ifndef OAUTH2_JWT_H
#define OAUTH2_JWT_H

/* A JWT (RFC 7519) signed RS256 (RFC 7515) for the JWT bearer grant (RFC
   7523), e.g. a Google service account acting for a user of its domain. */

/* Append header.claims.signature to dest: header {"alg":"RS256",
   "typ":"JWT"}, claims_json as given. private_key_pem is a PEM RSA private
   key (PKCS#8 or PKCS#1). Returns 0, or -1 with error_r (never the key). */
int oauth2_jwt_sign_rs256(const char *private_key_pem,
			  const char *claims_json, string_t *dest,
			  const char **error_r);

/* As oauth2_jwt_sign_rs256() with the JWT header given (JSON). */
int oauth2_jwt_sign_rs256_header(const char *private_key_pem,
				 const char *header, const char *claims_json,
				 string_t *dest, const char **error_r);

/* A client assertion (RFC 7523 2.2; Microsoft's certificate credentials):
   the header {"alg":"RS256","typ":"JWT","x5t":…,"x5t#S256":…}, the
   base64url SHA-1 and SHA-256 thumbprints of the PEM certificate's DER
   encoding. Returns NULL with error_r for a certificate that is none. */
const char *oauth2_jwt_client_assertion_header(const char *cert_pem,
					       const char **error_r);
/* Its claims: aud (the token endpoint URL), iss = sub = client_id, a
   random jti, nbf = iat = now, exp = now + lifetime. */
const char *oauth2_jwt_client_assertion_claims(const char *client_id,
					       const char *aud, time_t now,
					       unsigned int lifetime_secs);
/* Check a PEM certificate and an (unencrypted) PEM RSA private key belong
   together. Returns 0, or -1 with error_r (never the key). */
int oauth2_jwt_cert_check(const char *cert_pem, const char *private_key_pem,
			  const char **error_r);

/* The claims of a JWT bearer grant as JSON: iss, sub (omitted if NULL),
   scope (omitted if NULL), aud, iat = now, exp = now + lifetime. */
const char *oauth2_jwt_bearer_claims(const char *iss, const char *sub,
				     const char *scope, const char *aud,
				     time_t now, unsigned int lifetime_secs);

#endif
