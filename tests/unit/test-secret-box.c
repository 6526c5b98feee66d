/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "test-common.h"
#include "secret-box.h"

#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <dirent.h>

static const char *test_dir;

static void test_secret_box_roundtrip(void)
{
	unsigned char key[SECRET_BOX_KEY_LEN], key2[SECRET_BOX_KEY_LEN];
	const char *path, *secret, *secret2, *plain, *error;
	string_t *str;
	struct stat st;
	pool_t pool = pool_alloconly_create("secrets", 1024);

	test_begin("secret box: key file, encrypt, decrypt");
	path = t_strconcat(test_dir, "/key", NULL);
	test_assert(secret_box_key_load(path, FALSE, key, &error) < 0);
	test_assert(strstr(error, "does not exist") != NULL);
	test_assert(secret_box_key_load(path, TRUE, key, &error) == 0);
	test_assert(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	test_assert(secret_box_key_load(path, FALSE, key2, &error) == 0);
	test_assert(memcmp(key, key2, sizeof(key)) == 0);

	secret = secret_box_encrypt(key, "p\xc3\xa4ss word", "job 1");
	test_assert(strncmp(secret, "v2:", 3) == 0);
	test_assert(strstr(secret, "ss word") == NULL);
	test_assert(secret_box_decrypt(key, secret, "job 1", pool, &plain,
				       &error) == 0);
	test_assert_strcmp(plain, "p\xc3\xa4ss word");
	/* a new IV each time */
	secret2 = secret_box_encrypt(key, "p\xc3\xa4ss word", "job 1");
	test_assert(strcmp(secret, secret2) != 0);
	/* bound to its context: moved to another, it doesn't decrypt */
	test_assert(secret_box_decrypt(key, secret, "job 2", pool, &plain,
				       &error) < 0);
	test_assert(strstr(error, "belongs to another job") != NULL);
	test_assert(secret_box_decrypt(key, secret, "", pool, &plain,
				       &error) < 0);

	/* tampering and a wrong key fail */
	str = t_str_new(128);
	str_append(str, secret);
	str_c_modifiable(str)[10] = str_c(str)[10] == 'A' ? 'B' : 'A';
	test_assert(secret_box_decrypt(key, str_c(str), "job 1", pool, &plain,
				       &error) < 0);
	key2[0] ^= 1;
	test_assert(secret_box_decrypt(key2, secret, "job 1", pool, &plain,
				       &error) < 0);
	test_assert(secret_box_decrypt(key, "v2:AAAA", "job 1", pool, &plain,
				       &error) < 0);
	test_assert(secret_box_decrypt(key, "plain", "job 1", pool, &plain,
				       &error) < 0);
	/* a v1 value (no context) is read only to be converted */
	test_assert(secret_box_is_v1("v1:AAAA") && !secret_box_is_v1(secret));
	test_assert(secret_box_decrypt(key, "v1:AAAA", "job 1", pool, &plain,
				       &error) < 0);
	test_assert(secret_box_decrypt_v1(key, secret, pool, &plain,
					  &error) < 0);
	/* empty password round-trips too */
	secret = secret_box_encrypt(key, "", "job 1");
	test_assert(secret_box_decrypt(key, secret, "job 1", pool, &plain,
				       &error) == 0 && plain[0] == '\0');
	i_unlink(path);
	pool_unref(&pool);
	test_end();
}

static void test_secret_box_bad_key_file(void)
{
	unsigned char key[SECRET_BOX_KEY_LEN];
	const char *path, *error;
	DIR *dir;
	struct dirent *d;
	unsigned int files = 0;
	int fd;

	test_begin("secret box: bad key file");
	path = t_strconcat(test_dir, "/badkey", NULL);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	test_assert(fd != -1 && write(fd, "abcd\n", 5) == 5);
	i_close_fd(&fd);
	test_assert(secret_box_key_load(path, TRUE, key, &error) < 0);
	test_assert(strstr(error, "hex digits") != NULL);
	i_unlink(path);

	/* a key others may read is refused */
	test_assert(secret_box_key_load(path, TRUE, key, &error) == 0);
	test_assert(chmod(path, 0640) == 0);
	test_assert(secret_box_key_load(path, FALSE, key, &error) < 0);
	test_assert(strstr(error, "accessible to others (mode 0640): chmod 600") != NULL);
	test_assert(chmod(path, 0604) == 0);
	test_assert(secret_box_key_load(path, FALSE, key, &error) < 0);
	test_assert(chmod(path, 0400) == 0);
	test_assert(secret_box_key_load(path, FALSE, key, &error) == 0);
	i_unlink(path);
	/* creating it leaves no temporary file behind */
	dir = opendir(test_dir);
	while (dir != NULL && (d = readdir(dir)) != NULL) {
		if (d->d_name[0] != '.' || strstr(d->d_name, "key") != NULL)
			files++;
	}
	if (dir != NULL)
		(void)closedir(dir);
	test_assert(files == 0);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_secret_box_roundtrip,
		test_secret_box_bad_key_file,
		NULL
	};
	char dir[] = "/tmp/test-secret-box.XXXXXX";
	int ret;

	if (mkdtemp(dir) == NULL)
		return 1;
	test_dir = dir;
	ret = test_run(test_functions);
	(void)rmdir(dir);
	return ret;
}
