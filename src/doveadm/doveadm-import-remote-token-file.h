#ifndef DOVEADM_IMPORT_REMOTE_TOKEN_FILE_H
#define DOVEADM_IMPORT_REMOTE_TOKEN_FILE_H

/* run --refresh-token-file: a refresh token the endpoint rotates is
   written back to the file it came from, atomically (a temporary file in
   the same directory with the file's mode and owner, fsync, rename): the
   file always holds a whole token, the old or the new one. It is written
   with the rights of whoever runs doveadm: doveadm drops them for good
   when it imports for the user, so a small process forked when the
   options are read, before that, keeps them and does the writing (the
   tokens reach it over a pipe, never argv). */

struct istream;
struct doveadm_import_remote_token_file;

/* input: the --refresh-token-file stream. Returns the file to keep
   rotated tokens in, or NULL when there is no such file (the content came
   over doveadm's HTTP API): *error_r then says why (NULL if simply not a
   file). */
struct doveadm_import_remote_token_file *
doveadm_import_remote_token_file_init(struct istream *input, pool_t pool,
				      const char **error_r);
/* Write refresh_token to it. Returns 0, or -1 with error_r (the file is
   left as it was). */
int doveadm_import_remote_token_file_write(
	struct doveadm_import_remote_token_file *file,
	const char *refresh_token, const char **error_r);
/* The path, as given */
const char *
doveadm_import_remote_token_file_path(
	const struct doveadm_import_remote_token_file *file);
void doveadm_import_remote_token_file_deinit(
	struct doveadm_import_remote_token_file **file);

#endif
