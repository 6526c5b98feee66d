#ifndef SECRET_BOX_H
#define SECRET_BOX_H

/* Source passwords at rest: AES-256-GCM (OpenSSL) with a key kept in a
   file that only Dovecot can read. A stored secret is
   "v1:" base64(12-byte IV || ciphertext || 16-byte tag); the tag makes a
   changed or truncated value fail instead of decrypting to garbage. */

#define SECRET_BOX_KEY_LEN 32

/* Read the key (64 hex digits) from path. With create, a missing file is
   created with a new random key, mode 0600. */
int secret_box_key_load(const char *path, bool create,
			unsigned char key_r[SECRET_BOX_KEY_LEN],
			const char **error_r);

/* Encrypt plaintext; the result is allocated from data stack. */
const char *secret_box_encrypt(const unsigned char key[SECRET_BOX_KEY_LEN],
			       const char *plaintext);
/* Decrypt a value made by secret_box_encrypt(). Returns 0, or -1 with
   error_r (wrong key, damaged value). */
int secret_box_decrypt(const unsigned char key[SECRET_BOX_KEY_LEN],
		       const char *secret, pool_t pool,
		       const char **plaintext_r, const char **error_r);

#endif
