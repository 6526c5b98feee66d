/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "base64.h"
#include "buffer.h"
#include "hex-binary.h"
#include "randgen.h"
#include "safe-memset.h"
#include "write-full.h"
#include "secret-box.h"

#include <fcntl.h>
#include <unistd.h>
#include <openssl/evp.h>

#define SECRET_BOX_PREFIX "v1:"
#define SECRET_BOX_IV_LEN 12
#define SECRET_BOX_TAG_LEN 16
/* the hex key and a newline */
#define SECRET_BOX_KEY_FILE_MAX (SECRET_BOX_KEY_LEN*2 + 2)

static int secret_box_key_create(const char *path,
				 unsigned char key_r[SECRET_BOX_KEY_LEN],
				 const char **error_r)
{
	string_t *hex;
	int fd, ret = 0;

	random_fill(key_r, SECRET_BOX_KEY_LEN);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd == -1 && errno == EEXIST) {
		/* another process created it just now */
		return secret_box_key_load(path, FALSE, key_r, error_r);
	}
	if (fd == -1) {
		*error_r = t_strdup_printf("creat(%s) failed: %m", path);
		return -1;
	}
	hex = t_str_new(SECRET_BOX_KEY_FILE_MAX);
	binary_to_hex_append(hex, key_r, SECRET_BOX_KEY_LEN);
	str_append_c(hex, '\n');
	if (write_full(fd, str_data(hex), str_len(hex)) < 0 ||
	    fsync(fd) < 0) {
		*error_r = t_strdup_printf("write(%s) failed: %m", path);
		ret = -1;
	}
	safe_memset(str_c_modifiable(hex), 0, str_len(hex));
	i_close_fd(&fd);
	if (ret < 0)
		i_unlink(path);
	return ret;
}

int secret_box_key_load(const char *path, bool create,
			unsigned char key_r[SECRET_BOX_KEY_LEN],
			const char **error_r)
{
	char buf[SECRET_BOX_KEY_FILE_MAX + 1];
	buffer_t key_buf;
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
			       const char *plaintext)
{
	EVP_CIPHER_CTX *ctx;
	size_t plain_len = strlen(plaintext);
	buffer_t *raw;
	string_t *out;
	unsigned char *p;
	int len, final_len;

	raw = t_buffer_create(SECRET_BOX_IV_LEN + plain_len + SECRET_BOX_TAG_LEN);
	p = buffer_append_space_unsafe(raw, SECRET_BOX_IV_LEN + plain_len +
				       SECRET_BOX_TAG_LEN);
	random_fill(p, SECRET_BOX_IV_LEN);

	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, p) != 1 ||
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

int secret_box_decrypt(const unsigned char key[SECRET_BOX_KEY_LEN],
		       const char *secret, pool_t pool,
		       const char **plaintext_r, const char **error_r)
{
	EVP_CIPHER_CTX *ctx;
	buffer_t *raw;
	const unsigned char *iv, *cipher, *tag;
	unsigned char *plain;
	size_t cipher_len;
	int len, final_len, ok;

	if (strncmp(secret, SECRET_BOX_PREFIX, strlen(SECRET_BOX_PREFIX)) != 0) {
		*error_r = "Unknown secret format";
		return -1;
	}
	secret += strlen(SECRET_BOX_PREFIX);
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
		EVP_DecryptUpdate(ctx, plain, &len, cipher, cipher_len) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG,
				    SECRET_BOX_TAG_LEN, (void *)tag) == 1 &&
		EVP_DecryptFinal_ex(ctx, plain + len, &final_len) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok) {
		safe_memset(plain, 0, cipher_len);
		*error_r = "Secret does not decrypt with this key "
			"(wrong key file, or a damaged value)";
		return -1;
	}
	plain[cipher_len] = '\0';
	*plaintext_r = (const char *)plain;
	return 0;
}
