#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

/* What the libFuzzer harnesses share: libdovecot initialized once, its
   log quiet (a hostile input makes the code under test log, which is
   fine), and a private temporary directory for the parsers that read
   files. Each harness defines fuzz_one(); a crash, a sanitizer finding or
   a leak is a failure (tests/run-sanitize). */

#include "lib.h"
#include "unlink-directory.h"

#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_one(const unsigned char *data, size_t size);

/* (tmpfs: the checkpoint is written with fdatasync()) */
static char fuzz_tmp_dir[] = "/dev/shm/import-remote-fuzz.XXXXXX";

static void ATTR_FORMAT(2, 0)
fuzz_log_nothing(const struct failure_context *ctx ATTR_UNUSED,
		 const char *format ATTR_UNUSED, va_list args ATTR_UNUSED)
{
}

static void fuzz_deinit(void)
{
	const char *error;

	if (unlink_directory(fuzz_tmp_dir, UNLINK_DIRECTORY_FLAG_RMDIR,
			     &error) < 0)
		i_error("%s", error);
	lib_deinit();
}

/* write data to the file path (in the temporary directory) */
static ATTR_UNUSED void
fuzz_write_file(const char *path, const unsigned char *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd == -1)
		i_fatal("open(%s) failed: %m", path);
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		i_fatal("write(%s) failed: %m", path);
	i_close_fd(&fd);
}

int LLVMFuzzerInitialize(int *argc ATTR_UNUSED, char ***argv ATTR_UNUSED)
{
	lib_init();
	i_set_info_handler(fuzz_log_nothing);
	i_set_debug_handler(fuzz_log_nothing);
	i_set_error_handler(fuzz_log_nothing);
	if (mkdtemp(fuzz_tmp_dir) == NULL)
		i_fatal("mkdtemp(%s) failed: %m", fuzz_tmp_dir);
	atexit(fuzz_deinit);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	T_BEGIN {
		fuzz_one(data, size);
	} T_END;
	return 0;
}

#endif
