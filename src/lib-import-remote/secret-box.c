/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "base64.h"
#include "buffer.h"
#include "hex-binary.h"
#include "randgen.h"
#include "safe-memset.h"
#include "write-full.h"
#include "safe-mkstemp.h"
#include "hmac.h"
#include "sha2.h"
#include "secret-box.h"

#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/evp.h>

#define SECRET_BOX_PREFIX "v2:"
#define SECRET_BOX_PREFIX_V1 "v1:"
#define SECRET_BOX_IV_LEN 12
#define SECRET_BOX_TAG_LEN 16
/* the hex key and a newline */
#define SECRET_BOX_KEY_FILE_MAX (SECRET_BOX_KEY_LEN*2 + 2)

/* A new random key, written to a temporary file that is linked to path
   only when it is complete: a reader never sees half a key, and of two
   processes creating it at once one wins and the other loads its key. */
static int secret_box_key_create(const char *path,
				 unsigned char key_r[SECRET_BOX_KEY_LEN],
				 const char **error_r)
{
	const char *slash = strrchr(path, '/');
	string_t *hex, *temp_path;
	int fd, ret = 0;

	random_fill(key_r, SECRET_BOX_KEY_LEN);
	temp_path = t_str_new(256);
	if (slash != NULL)
		str_append_data(temp_path, path, slash - path + 1);
	str_append(temp_path, ".import-remote-key.");
	fd = safe_mkstemp_hostpid(temp_path, 0600, (uid_t)-1, (gid_t)-1);
	if (fd == -1) {
		*error_r = t_strdup_printf("safe_mkstemp(%s) failed: %m",
					   str_c(temp_path));
		safe_memset(key_r, 0, SECRET_BOX_KEY_LEN);
		return -1;
	}
	hex = t_str_new(SECRET_BOX_KEY_FILE_MAX);
	binary_to_hex_append(hex, key_r, SECRET_BOX_KEY_LEN);
	str_append_c(hex, '\n');
	if (write_full(fd, str_data(hex), str_len(hex)) < 0 ||
	    fsync(fd) < 0) {
		*error_r = t_strdup_printf("write(%s) failed: %m",
					   str_c(temp_path));
		ret = -1;
	}
	safe_memset(str_c_modifiable(hex), 0, str_len(hex));
	i_close_fd(&fd);
	if (ret == 0 && link(str_c(temp_path), path) < 0) {
		if (errno == EEXIST) {
			/* another process created it just now */
			i_unlink(str_c(temp_path));
			return secret_box_key_load(path, FALSE, key_r, error_r);
		}
		*error_r = t_strdup_printf("link(%s, %s) failed: %m",
					   str_c(temp_path), path);
		ret = -1;
	}
	i_unlink(str_c(temp_path));
	if (ret < 0)
		safe_memset(key_r, 0, SECRET_BOX_KEY_LEN);
	return ret;
}

int secret_box_key_load(const char *path, bool create,
			unsigned char key_r[SECRET_BOX_KEY_LEN],
			const char **error_r)
{
	char buf[SECRET_BOX_KEY_FILE_MAX + 1];
	buffer_t key_buf;
	struct stat st;
	ssize_t ret;
	size_t len;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd == -1) {
		if (errno == ENOENT && create)
			return secret_box_key_create(path, key_r, error_r);
		*error_r = errno == ENOENT ?
			t_strdup_printf("Key file %s does not exist", path) :
			t_strdup_printf("open(%s) failed: %m", path);
		return -1;
	}
	/* whoever else can read the key can read every stored password */
	if (fstat(fd, &st) < 0) {
		*error_r = t_strdup_printf("fstat(%s) failed: %m", path);
		i_close_fd(&fd);
		return -1;
	}
	if ((st.st_mode & 0077) != 0) {
		*error_r = t_strdup_printf("Key file %s is accessible to "
			"others (mode %04o): chmod 600 %s", path,
			(unsigned int)(st.st_mode & 07777), path);
		i_close_fd(&fd);
		return -1;
	}
	ret = read(fd, buf, sizeof(buf) - 1);
	i_close_fd(&fd);
	if (ret < 0) {
		*error_r = t_strdup_printf("read(%s) failed: %m", path);
		return -1;
	}
	len = ret;
	while (len > 0 && (buf[len-1] == '\n' || buf[len-1] == '\r'))
		len--;
	buf[len] = '\0';
	buffer_create_from_data(&key_buf, key_r, SECRET_BOX_KEY_LEN);
	if (len != SECRET_BOX_KEY_LEN*2 ||
	    hex_to_binary(buf, &key_buf) < 0 ||
	    key_buf.used != SECRET_BOX_KEY_LEN) {
		safe_memset(buf, 0, sizeof(buf));
		*error_r = t_strdup_printf("Key file %s must hold %u hex digits",
					   path, SECRET_BOX_KEY_LEN*2);
		return -1;
	}
	safe_memset(buf, 0, sizeof(buf));
	return 0;
}

const char *secret_box_encrypt(const unsigned char key[SECRET_BOX_KEY_LEN],
			       const char *plaintext, const char *context)
{
	EVP_CIPHER_CTX *ctx;
	size_t plain_len = strlen(plaintext);
	buffer_t *raw;
	string_t *out;
	unsigned char *p;
	int len, final_len, aad_len;

	raw = t_buffer_create(SECRET_BOX_IV_LEN + plain_len + SECRET_BOX_TAG_LEN);
	p = buffer_append_space_unsafe(raw, SECRET_BOX_IV_LEN + plain_len +
				       SECRET_BOX_TAG_LEN);
	random_fill(p, SECRET_BOX_IV_LEN);

	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, p) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &aad_len,
			      (const unsigned char *)context,
			      strlen(context)) != 1 ||
	    EVP_EncryptUpdate(ctx, p + SECRET_BOX_IV_LEN, &len,
			      (const unsigned char *)plaintext, plain_len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, p + SECRET_BOX_IV_LEN + len,
				&final_len) != 1 ||
	    (size_t)(len + final_len) != plain_len ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SECRET_BOX_TAG_LEN,
				p + SECRET_BOX_IV_LEN + plain_len) != 1)
		i_fatal("AES-256-GCM encryption failed (OpenSSL)");
	EVP_CIPHER_CTX_free(ctx);

	out = t_str_new(MAX_BASE64_ENCODED_SIZE(raw->used) + 8);
	str_append(out, SECRET_BOX_PREFIX);
	base64_encode(raw->data, raw->used, out);
	safe_memset(p + SECRET_BOX_IV_LEN, 0, plain_len);
	return str_c(out);
}

/* context NULL: none (v1) */
static int
secret_box_open(const unsigned char key[SECRET_BOX_KEY_LEN],
		const char *secret, const char *prefix, const char *context,
		pool_t pool, const char **plaintext_r, const char **error_r)
{
	EVP_CIPHER_CTX *ctx;
	buffer_t *raw;
	const unsigned char *iv, *cipher, *tag;
	unsigned char *plain;
	size_t cipher_len;
	int len, final_len, aad_len, ok;

	if (strncmp(secret, prefix, strlen(prefix)) != 0) {
		*error_r = "Unknown secret format";
		return -1;
	}
	secret += strlen(prefix);
	raw = t_base64_decode_str(secret);
	if (raw->used < SECRET_BOX_IV_LEN + SECRET_BOX_TAG_LEN) {
		*error_r = "Secret is too short";
		return -1;
	}
	iv = raw->data;
	cipher = iv + SECRET_BOX_IV_LEN;
	cipher_len = raw->used - SECRET_BOX_IV_LEN - SECRET_BOX_TAG_LEN;
	tag = cipher + cipher_len;
	plain = p_malloc(pool, cipher_len + 1);

	ctx = EVP_CIPHER_CTX_new();
	ok = ctx != NULL &&
		EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv) == 1 &&
		(context == NULL ||
		 EVP_DecryptUpdate(ctx, NULL, &aad_len,
				   (const unsigned char *)context,
				   strlen(context)) == 1) &&
		EVP_DecryptUpdate(ctx, plain, &len, cipher, cipher_len) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG,
				    SECRET_BOX_TAG_LEN, (void *)tag) == 1 &&
		EVP_DecryptFinal_ex(ctx, plain + len, &final_len) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok) {
		safe_memset(plain, 0, cipher_len);
		*error_r = "Secret does not decrypt with this key for this "
			"job (wrong key file, a damaged value, or a value "
			"that belongs to another job)";
		return -1;
	}
	plain[cipher_len] = '\0';
	*plaintext_r = (const char *)plain;
	return 0;
}

int secret_box_decrypt(const unsigned char key[SECRET_BOX_KEY_LEN],
		       const char *secret, const char *context, pool_t pool,
		       const char **plaintext_r, const char **error_r)
{
	return secret_box_open(key, secret, SECRET_BOX_PREFIX, context, pool,
			       plaintext_r, error_r);
}

bool secret_box_is_v1(const char *secret)
{
	return strncmp(secret, SECRET_BOX_PREFIX_V1,
		       strlen(SECRET_BOX_PREFIX_V1)) == 0;
}

int secret_box_decrypt_v1(const unsigned char key[SECRET_BOX_KEY_LEN],
			  const char *secret, pool_t pool,
			  const char **plaintext_r, const char **error_r)
{
	return secret_box_open(key, secret, SECRET_BOX_PREFIX_V1, NULL, pool,
			       plaintext_r, error_r);
}

const char *secret_box_mac(const unsigned char key[SECRET_BOX_KEY_LEN],
			   const char *purpose, const char *const *parts)
{
	unsigned char digest[SHA256_RESULTLEN];
	struct hmac_context ctx;
	const char *len;

	hmac_init(&ctx, key, SECRET_BOX_KEY_LEN, &hash_method_sha256);
	hmac_update(&ctx, purpose, strlen(purpose) + 1);
	for (; *parts != NULL; parts++) {
		len = t_strdup_printf("%zu:", strlen(*parts));
		hmac_update(&ctx, len, strlen(len));
		hmac_update(&ctx, *parts, strlen(*parts));
	}
	hmac_final(&ctx, digest);
	return binary_to_hex(digest, sizeof(digest));
}

bool secret_box_mac_verify(const unsigned char key[SECRET_BOX_KEY_LEN],
			   const char *purpose, const char *const *parts,
			   const char *mac)
{
	const char *expected = secret_box_mac(key, purpose, parts);

	return strlen(mac) == strlen(expected) &&
		mem_equals_timing_safe(mac, expected, strlen(expected));
}
