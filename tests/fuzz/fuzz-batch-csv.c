/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* libFuzzer: the CSV of a bulk import (queue/batch-csv.c), the whole file
   as it is given to batch create */

#include "fuzz-common.h"
#include "array.h"
#include "batch-csv.h"

static void fuzz_one(const unsigned char *data, size_t size)
{
	struct batch_csv_defaults defaults = {
		.host = "imap.example.org",
		.ssl = IMPORT_REMOTE_SSL_IMAPS,
	};
	ARRAY_TYPE(batch_csv_row) rows;
	ARRAY_TYPE(batch_csv_error) errors;
	const struct batch_csv_row *row;
	const struct batch_csv_error *error;
	unsigned int more_errors, i;
	size_t total = 0;
	pool_t pool;

	/* the first byte picks what the rows don't say */
	if (size > 0 && (data[0] & 1) != 0) {
		defaults.host = NULL;
		defaults.port = data[0];
		defaults.ssl = IMPORT_REMOTE_SSL_NONE;
	}
	pool = pool_alloconly_create("fuzz batch csv", 1024);
	p_array_init(&rows, pool, 16);
	p_array_init(&errors, pool, 16);
	(void)batch_csv_parse(data, size, pool, &defaults, &rows, &errors,
			      &more_errors);
	/* every string handed out is read */
	array_foreach(&rows, row) {
		total += strlen(row->source_user) + strlen(row->dest_user) +
			strlen(row->source_password) +
			(row->host == NULL ? 0 : strlen(row->host));
		for (i = 0; i < BATCH_CSV_COLUMN_COUNT; i++)
			total += row->column_pos[i];
		if (!batch_csv_add_row_error(pool, &errors, row,
					     BATCH_CSV_DESTINATION_USER,
					     "no such user"))
			more_errors++;
	}
	batch_csv_errors_sort(&errors);
	array_foreach(&errors, error)
		total += strlen(batch_csv_error_str(error));
	i_assert(array_count(&errors) <= BATCH_CSV_MAX_ERRORS);
	(void)total;
	pool_unref(&pool);
}
