#ifndef SECRET_BOX_H
#define SECRET_BOX_H

/* Source passwords at rest: AES-256-GCM (OpenSSL) with a key kept in a
   file that only Dovecot can read. A stored secret is
   "v2:" base64(12-byte IV || ciphertext || 16-byte tag), encrypted with a
   context as associated data: what the secret belongs to (for a job's
   password: job-secret.h). The tag makes a changed or truncated value
   fail, and so does a value moved to another context: a ciphertext
   copied into another job of the store does not decrypt there.
   "v1:" (no context) is what versions before 0.2 stored; nothing says
   what it belongs to, so job passwords in it are never used. */

#define SECRET_BOX_KEY_LEN 32

/* Read the key (64 hex digits) from path. With create, a missing file is
   created with a new random key, mode 0600, atomically. A key file that
   others may access (mode not 0600 or stricter) is refused. */
int secret_box_key_load(const char *path, bool create,
			unsigned char key_r[SECRET_BOX_KEY_LEN],
			const char **error_r);

/* Encrypt plaintext bound to context; the result is allocated from data
   stack. */
const char *secret_box_encrypt(const unsigned char key[SECRET_BOX_KEY_LEN],
			       const char *plaintext, const char *context);
/* Decrypt a value made by secret_box_encrypt() with the same context.
   Returns 0, or -1 with error_r (wrong key, damaged value, another
   context, a v1 value). */
int secret_box_decrypt(const unsigned char key[SECRET_BOX_KEY_LEN],
		       const char *secret, const char *context, pool_t pool,
		       const char **plaintext_r, const char **error_r);
/* An authenticator of parts (each with its length) for purpose, under the
   key: hex HMAC-SHA256. What the store holds beside it can't be changed by
   whoever can write the store but not read the key. */
const char *secret_box_mac(const unsigned char key[SECRET_BOX_KEY_LEN],
			   const char *purpose, const char *const *parts);
/* mac == secret_box_mac(...), in constant time */
bool secret_box_mac_verify(const unsigned char key[SECRET_BOX_KEY_LEN],
			   const char *purpose, const char *const *parts,
			   const char *mac);

/* TRUE if secret is a v1 value (no context), to be converted with
   secret_box_decrypt_v1() + secret_box_encrypt() */
bool secret_box_is_v1(const char *secret);
int secret_box_decrypt_v1(const unsigned char key[SECRET_BOX_KEY_LEN],
			  const char *secret, pool_t pool,
			  const char **plaintext_r, const char **error_r);

#endif
