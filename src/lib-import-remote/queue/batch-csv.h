#ifndef BATCH_CSV_H
#define BATCH_CSV_H

#include "net.h"
#include "import-remote-settings.h"

/* The CSV of a bulk import (DESIGN §6): UTF-8, a header row, commas,
   RFC 4180 quoting. Columns, by header name:
     source_email,source_password,destination_user
     [,source_host,source_port,source_security]
   The file is hostile input: every problem is reported with its line and
   column, and a password is never part of a message. */

#define BATCH_CSV_MAX_FIELD_LEN 1024
/* a bigger file is refused before it is parsed */
#define BATCH_CSV_MAX_SIZE (64 * 1024 * 1024)
/* problems listed at the most; the rest are only counted, so that a
   hostile file can't make memory grow with it */
#define BATCH_CSV_MAX_ERRORS 1000

enum batch_csv_column {
	BATCH_CSV_SOURCE_EMAIL = 0,
	BATCH_CSV_SOURCE_PASSWORD,
	BATCH_CSV_DESTINATION_USER,
	BATCH_CSV_SOURCE_HOST,
	BATCH_CSV_SOURCE_PORT,
	BATCH_CSV_SOURCE_SECURITY,

	BATCH_CSV_COLUMN_COUNT
};

/* What a row doesn't say: batch create's --host/--port/--ssl */
struct batch_csv_defaults {
	const char *host; /* NULL = none */
	in_port_t port; /* 0 = by security */
	enum import_remote_ssl ssl;
	/* the batch signs in with one OAuth2 grant for every row: the file
	   has no source_password column (it is refused) */
	bool shared_grant;
};

struct batch_csv_row {
	/* the line the row starts on (1 = the header) */
	unsigned int line;
	/* each column's place in the file, 1-based; 0 = not in the file */
	unsigned int column_pos[BATCH_CSV_COLUMN_COUNT];
	const char *source_user, *source_password, *dest_user;
	const char *host;
	in_port_t port;
	enum import_remote_ssl ssl;
};
ARRAY_DEFINE_TYPE(batch_csv_row, struct batch_csv_row);

/* One problem in the file */
struct batch_csv_error {
	unsigned int line;
	/* its place in the file, 0 if the problem isn't one field's */
	unsigned int column;
	/* the column's name, NULL if none */
	const char *field;
	const char *reason;
};
ARRAY_DEFINE_TYPE(batch_csv_error, struct batch_csv_error);

const char *batch_csv_column_name(enum batch_csv_column column);
/* "line 4, column 5 (source_port): invalid port '99999' (1-65535)" */
const char *batch_csv_error_str(const struct batch_csv_error *error);

/* Parse and validate the whole file. Rows go to rows, the first
   BATCH_CSV_MAX_ERRORS problems to errors, the number of the others to
   *more_errors_r. Returns 0 if the file is valid (no problems), -1 if not.
   Memory grows with the rows kept, not with the file: a record is read in
   constant memory (at most the known columns, field values cut at
   BATCH_CSV_MAX_FIELD_LEN). Strings are allocated from pool (passwords
   too: the caller wipes them when done). */
int batch_csv_parse(const unsigned char *data, size_t size, pool_t pool,
		    const struct batch_csv_defaults *defaults,
		    ARRAY_TYPE(batch_csv_row) *rows,
		    ARRAY_TYPE(batch_csv_error) *errors,
		    unsigned int *more_errors_r);

/* Add an error about a row's column (e.g. an unknown destination user
   found by the caller). Returns FALSE (and adds nothing) if errors holds
   BATCH_CSV_MAX_ERRORS already: the caller counts it. */
bool batch_csv_add_row_error(pool_t pool, ARRAY_TYPE(batch_csv_error) *errors,
			     const struct batch_csv_row *row,
			     enum batch_csv_column column, const char *reason);
/* Put the errors in the file's order, by line and then column (those the
   caller added after parsing, such as unknown users, among the parser's;
   a line's own problem before its fields'), keeping the order of errors
   at the same place. */
void batch_csv_errors_sort(ARRAY_TYPE(batch_csv_error) *errors);

#endif
