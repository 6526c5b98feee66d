/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "istream.h"
#include "safe-memset.h"
#include "write-full.h"
#include "fd-util.h"
#include "doveadm-import-remote-token-file.h"

#include <stdio.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

struct doveadm_import_remote_token_file {
	const char *path, *dir, *base;
	int dir_fd;
	/* the file's, kept by the new one */
	uid_t uid;
	gid_t gid;
	mode_t mode;
	/* the writer: a process keeping the rights of whoever runs doveadm
	   (doveadm itself drops them for the user's import, for good): the
	   tokens to it, its answers back */
	pid_t pid;
	int to_fd, from_fd;
};

/* A token line, and an answer line, at most */
#define TOKEN_FILE_MAX_LINE (8192 + 2)

static int
token_file_write_tmp(struct doveadm_import_remote_token_file *file,
		     const char *tmp, const char *refresh_token,
		     const char **error_r);

/* read a line (up to '\n', which is replaced by NUL) into buf. Returns
   its length, or -1 at EOF, an error or a line too long */
static ssize_t token_file_read_line(int fd, char *buf, size_t size)
{
	size_t pos = 0;
	ssize_t ret;

	while (pos < size) {
		ret = read(fd, buf + pos, 1);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret <= 0)
			return -1;
		if (buf[pos] == '\n') {
			buf[pos] = '\0';
			return pos;
		}
		pos++;
	}
	return -1;
}

/* The writer process: each line read is a token for the file; answers
   "+" or "-reason". Ends at EOF. */
static void ATTR_NORETURN
token_file_writer(struct doveadm_import_remote_token_file *file)
{
	char line[TOKEN_FILE_MAX_LINE];
	const char *tmp, *error, *answer;
	ssize_t len;

	tmp = t_strdup_printf(".%s.%s.tmp", file->base, dec2str(getpid()));
	while ((len = token_file_read_line(file->to_fd, line,
					   sizeof(line))) >= 0) {
		T_BEGIN {
			if (len == 0)
				answer = "-an empty token\n";
			else if (token_file_write_tmp(file, tmp, line,
						      &error) == 0)
				answer = "+\n";
			else {
				answer = t_strdup_printf("-%s\n",
					t_str_replace(error, '\n', ' '));
			}
			safe_memset(line, 0, len);
			if (write_full(file->from_fd, answer,
				       strlen(answer)) < 0)
				_exit(1);
		} T_END;
	}
	_exit(0);
}

static int
token_file_start_writer(struct doveadm_import_remote_token_file *file,
			const char **error_r)
{
	int to[2], from[2];

	if (pipe(to) < 0) {
		*error_r = t_strdup_printf("pipe() failed: %m");
		return -1;
	}
	if (pipe(from) < 0) {
		*error_r = t_strdup_printf("pipe() failed: %m");
		i_close_fd(&to[0]); i_close_fd(&to[1]);
		return -1;
	}
	file->pid = fork();
	if (file->pid < 0) {
		*error_r = t_strdup_printf("fork() failed: %m");
		i_close_fd(&to[0]); i_close_fd(&to[1]);
		i_close_fd(&from[0]); i_close_fd(&from[1]);
		return -1;
	}
	if (file->pid == 0) {
		/* the writer: only the pipes and the directory */
		i_close_fd(&to[1]);
		i_close_fd(&from[0]);
		file->to_fd = to[0];
		file->from_fd = from[1];
		token_file_writer(file);
	}
	i_close_fd(&to[0]);
	i_close_fd(&from[1]);
	file->to_fd = to[1];
	file->from_fd = from[0];
	fd_close_on_exec(file->to_fd, TRUE);
	fd_close_on_exec(file->from_fd, TRUE);
	/* the directory is the writer's */
	i_close_fd(&file->dir_fd);
	return 0;
}

struct doveadm_import_remote_token_file *
doveadm_import_remote_token_file_init(struct istream *input, pool_t pool,
				      const char **error_r)
{
	struct doveadm_import_remote_token_file *file;
	const char *path = i_stream_get_name(input), *slash;
	struct stat st, st2;
	int fd = i_stream_get_fd(input);

	*error_r = NULL;
	/* over doveadm's HTTP API the stream is the content itself */
	if (fd < 0 || path == NULL || path[0] == '\0')
		return NULL;
	if (fstat(fd, &st) < 0) {
		*error_r = t_strdup_printf("fstat(%s) failed: %m", path);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		*error_r = "not a regular file";
		return NULL;
	}
	file = p_new(pool, struct doveadm_import_remote_token_file, 1);
	file->path = p_strdup(pool, path);
	slash = strrchr(path, '/');
	if (slash == NULL) {
		file->dir = ".";
		file->base = file->path;
	} else {
		file->dir = slash == path ? "/" : p_strdup_until(pool, path, slash);
		file->base = p_strdup(pool, slash + 1);
	}
	/* the directory now: doveadm changes to the user's home later */
	file->dir_fd = open(file->dir, O_RDONLY | O_DIRECTORY);
	if (file->dir_fd < 0) {
		*error_r = t_strdup_printf("open(%s) failed: %m", file->dir);
		return NULL;
	}
	if (fstatat(file->dir_fd, file->base, &st2, AT_SYMLINK_NOFOLLOW) < 0 ||
	    st2.st_dev != st.st_dev || st2.st_ino != st.st_ino) {
		*error_r = "a symbolic link, or replaced while read";
		i_close_fd(&file->dir_fd);
		return NULL;
	}
	file->uid = st.st_uid;
	file->gid = st.st_gid;
	file->mode = st.st_mode & 07777;
	file->to_fd = file->from_fd = -1;
	if (token_file_start_writer(file, error_r) < 0) {
		i_close_fd(&file->dir_fd);
		return NULL;
	}
	return file;
}

static int
token_file_write_tmp(struct doveadm_import_remote_token_file *file,
		     const char *tmp, const char *refresh_token,
		     const char **error_r)
{
	string_t *data = t_str_new(strlen(refresh_token) + 2);
	struct stat st;
	int fd, ret = -1;

	fd = openat(file->dir_fd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == EEXIST) {
		/* left by a run that died: ours (our pid) */
		(void)unlinkat(file->dir_fd, tmp, 0);
		fd = openat(file->dir_fd, tmp,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
	}
	if (fd < 0) {
		*error_r = t_strdup_printf("creating %s/%s failed: %m",
					   file->dir, tmp);
		return -1;
	}
	str_append(data, refresh_token);
	str_append_c(data, '\n');
	if (fstat(fd, &st) < 0)
		*error_r = t_strdup_printf("fstat(%s) failed: %m", tmp);
	else if ((st.st_uid != file->uid || st.st_gid != file->gid) &&
		 fchown(fd, file->uid, file->gid) < 0) {
		*error_r = t_strdup_printf("fchown(%s, %s, %s) failed "
			"(the file's owner): %m", tmp, dec2str(file->uid),
			dec2str(file->gid));
	} else if (fchmod(fd, file->mode) < 0)
		*error_r = t_strdup_printf("fchmod(%s) failed: %m", tmp);
	else if (write_full(fd, str_data(data), str_len(data)) < 0)
		*error_r = t_strdup_printf("write(%s) failed: %m", tmp);
	else if (fsync(fd) < 0)
		*error_r = t_strdup_printf("fsync(%s) failed: %m", tmp);
	else
		ret = 0;
	safe_memset(str_c_modifiable(data), 0, str_len(data));
	if (close(fd) < 0 && ret == 0) {
		*error_r = t_strdup_printf("close(%s) failed: %m", tmp);
		ret = -1;
	}
	if (ret == 0 &&
	    renameat(file->dir_fd, tmp, file->dir_fd, file->base) < 0) {
		*error_r = t_strdup_printf("rename(%s, %s) failed: %m", tmp,
					   file->base);
		ret = -1;
	}
	if (ret < 0) {
		(void)unlinkat(file->dir_fd, tmp, 0);
		return -1;
	}
	/* the rename itself on disk */
	if (fsync(file->dir_fd) < 0) {
		*error_r = t_strdup_printf("the new token is in place, but "
			"fsync(%s) failed: %m", file->dir);
		return -1;
	}
	return 0;
}

int doveadm_import_remote_token_file_write(
	struct doveadm_import_remote_token_file *file,
	const char *refresh_token, const char **error_r)
{
	char answer[TOKEN_FILE_MAX_LINE];
	string_t *line;
	int ret;

	if (strpbrk(refresh_token, "\r\n") != NULL ||
	    strlen(refresh_token) + 2 > TOKEN_FILE_MAX_LINE) {
		*error_r = "the new refresh token has a line break or is too "
			"long";
		return -1;
	}
	if (file->to_fd == -1) {
		*error_r = "the writer process is gone";
		return -1;
	}
	line = t_str_new(strlen(refresh_token) + 2);
	str_append(line, refresh_token);
	str_append_c(line, '\n');
	ret = write_full(file->to_fd, str_data(line), str_len(line));
	safe_memset(str_c_modifiable(line), 0, str_len(line));
	if (ret < 0 ||
	    token_file_read_line(file->from_fd, answer, sizeof(answer)) < 0) {
		*error_r = "the writer process is gone";
		i_close_fd(&file->to_fd);
		i_close_fd(&file->from_fd);
		return -1;
	}
	if (answer[0] != '+') {
		*error_r = t_strdup(answer + 1);
		return -1;
	}
	return 0;
}

const char *
doveadm_import_remote_token_file_path(
	const struct doveadm_import_remote_token_file *file)
{
	return file->path;
}

void doveadm_import_remote_token_file_deinit(
	struct doveadm_import_remote_token_file **_file)
{
	struct doveadm_import_remote_token_file *file = *_file;

	if (file == NULL)
		return;
	*_file = NULL;
	/* EOF ends the writer */
	i_close_fd(&file->to_fd);
	i_close_fd(&file->from_fd);
	if (file->pid > 0 && waitpid(file->pid, NULL, 0) < 0)
		i_error("waitpid(token file writer) failed: %m");
}
