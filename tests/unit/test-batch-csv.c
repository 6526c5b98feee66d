/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "test-common.h"
#include "batch-csv.h"

static pool_t pool;
static ARRAY_TYPE(batch_csv_row) rows;
static ARRAY_TYPE(batch_csv_error) errors;
static unsigned int more_errors;

static int parse(const char *csv, const char *default_host)
{
	struct batch_csv_defaults defaults;

	i_zero(&defaults);
	defaults.host = default_host;
	defaults.ssl = IMPORT_REMOTE_SSL_IMAPS;
	p_clear(pool);
	p_array_init(&rows, pool, 8);
	p_array_init(&errors, pool, 8);
	return batch_csv_parse((const unsigned char *)csv, strlen(csv), pool,
			       &defaults, &rows, &errors, &more_errors);
}

static bool has_error(const char *needle)
{
	const struct batch_csv_error *error;

	array_foreach(&errors, error) {
		if (strstr(batch_csv_error_str(error), needle) != NULL)
			return TRUE;
	}
	return FALSE;
}

static void test_batch_csv_three_columns(void)
{
	const struct batch_csv_row *row;

	test_begin("batch csv: three columns, defaults, quoting, BOM, CRLF");
	test_assert(parse("\xef\xbb\xbfsource_email,source_password,destination_user\r\n"
			  "a@old.example,pw1,a@new.example\r\n"
			  "\r\n"
			  "\"b@old.example\",\"p,w \"\"2\"\" \",  b@new.example  \r\n"
			  "c@old.example,\"multi\"\"\",c@new.example",
			  "imap.old.example") == 0);
	test_assert(array_count(&errors) == 0);
	test_assert(array_count(&rows) == 3);
	row = array_idx(&rows, 0);
	test_assert(row->line == 2);
	test_assert_strcmp(row->source_user, "a@old.example");
	test_assert_strcmp(row->source_password, "pw1");
	test_assert_strcmp(row->dest_user, "a@new.example");
	test_assert_strcmp(row->host, "imap.old.example");
	test_assert(row->port == 0);
	test_assert(row->ssl == IMPORT_REMOTE_SSL_IMAPS);
	row = array_idx(&rows, 1);
	test_assert(row->line == 4);
	/* a quoted value outlives its record */
	test_assert_strcmp(row->source_user, "b@old.example");
	test_assert_strcmp(row->source_password, "p,w \"2\" ");
	test_assert_strcmp(row->dest_user, "b@new.example");
	row = array_idx(&rows, 2);
	test_assert(row->line == 5);
	test_assert_strcmp(row->source_password, "multi\"");
	test_end();
}

static void test_batch_csv_six_columns(void)
{
	const struct batch_csv_row *row;

	test_begin("batch csv: six columns, any order, per-row source");
	test_assert(parse("Destination_User,source_email,source_password,"
			  "source_host,source_port,source_security\n"
			  "a,a@x,pw,mail.x.example,143,starttls\n"
			  "b,b@y,pw,,,\n"
			  "c,c@z,pw,10.0.0.1,993,ssl\n"
			  "d,d@z,pw,z.example,,none\n", "default.example") == 0);
	test_assert(array_count(&rows) == 4);
	row = array_idx(&rows, 0);
	test_assert_strcmp(row->dest_user, "a");
	test_assert_strcmp(row->source_user, "a@x");
	test_assert_strcmp(row->host, "mail.x.example");
	test_assert(row->port == 143);
	test_assert(row->ssl == IMPORT_REMOTE_SSL_STARTTLS);
	test_assert(row->column_pos[BATCH_CSV_SOURCE_PORT] == 5);
	test_assert(row->column_pos[BATCH_CSV_DESTINATION_USER] == 1);
	/* empty per-row values fall back to the defaults */
	row = array_idx(&rows, 1);
	test_assert_strcmp(row->host, "default.example");
	test_assert(row->port == 0 && row->ssl == IMPORT_REMOTE_SSL_IMAPS);
	row = array_idx(&rows, 2);
	test_assert(row->ssl == IMPORT_REMOTE_SSL_IMAPS && row->port == 993);
	row = array_idx(&rows, 3);
	test_assert(row->ssl == IMPORT_REMOTE_SSL_NONE);
	test_end();
}

static void test_batch_csv_row_errors(void)
{
	test_begin("batch csv: every bad line reported, with line and column");
	test_assert(parse("source_email,source_password,destination_user,"
			  "source_host,source_port,source_security\n"
			  "a@x,secretA,a,h.example,99999,ssl\n"
			  "b@x,secretB,b,h.example,993,smtp\n"
			  "c@x,,c,h.example,993,ssl\n"
			  "d@x,secretD,a,h.example,993,ssl\n"
			  "e@x,secretE,e,bad host!,993,ssl\n"
			  "f@x,secretF,f,h.example\n"
			  ",secretG,g,,,\n"
			  "h@x,secretH,h,h.example,abc,\n", NULL) < 0);
	test_assert(array_count(&rows) == 0);
	test_assert(has_error("line 2, column 5 (source_port): invalid port '99999'"));
	test_assert(has_error("line 3, column 6 (source_security): invalid security 'smtp'"));
	test_assert(has_error("line 4, column 2 (source_password): missing password"));
	/* line 2 is invalid too, but still claims its destination */
	test_assert(has_error("line 5, column 3 (destination_user): duplicate destination user 'a' (also on line 2)"));
	test_assert(has_error("line 6, column 4 (source_host): invalid host name 'bad host!'"));
	test_assert(has_error("line 7: 4 fields, but the header row has 6"));
	test_assert(has_error("line 8, column 1 (source_email): missing source email"));
	test_assert(has_error("line 8, column 4 (source_host): no source host"));
	test_assert(has_error("line 9, column 5 (source_port): invalid port 'abc'"));
	/* no password in any message */
	test_assert(!has_error("secret"));
	test_end();
}

static const char *error_places(void)
{
	const struct batch_csv_error *error;
	string_t *str = t_str_new(64);

	array_foreach(&errors, error)
		str_printfa(str, "%u:%u ", error->line, error->column);
	return str_c(str);
}

static void test_batch_csv_error_order(void)
{
	const struct batch_csv_row *row;

	test_begin("batch csv: errors in the file's order");
	/* the columns in another order than the checks: a row's errors come
	   out of the parser by check, not by column */
	test_assert(parse("source_security,source_port,destination_user,"
			  "source_password,source_email\n"
			  "ssl,993,a,pw,a@x\n"
			  "smtp,0,b,,b@x\n"
			  "ssl,993,c,pw,c@x\n"
			  "ssl,993,d\n"
			  "ssl,993,e,pw,e@x\n", "h.example") < 0);
	/* what the caller adds after parsing: unknown users of valid rows */
	array_foreach(&rows, row) {
		if (strcmp(row->dest_user, "b") != 0)
			test_assert(batch_csv_add_row_error(pool, &errors, row,
				BATCH_CSV_DESTINATION_USER, "unknown"));
	}
	test_assert_strcmp(error_places(), "3:4 3:2 3:1 5:0 2:3 4:3 6:3 ");
	batch_csv_errors_sort(&errors);
	test_assert_strcmp(error_places(), "2:3 3:1 3:2 3:4 4:3 5:0 6:3 ");
	test_end();
}

static void test_batch_csv_duplicates(void)
{
	test_begin("batch csv: duplicate destination user");
	test_assert(parse("source_email,source_password,destination_user\n"
			  "a@x,pw,Alice@new\n"
			  "b@x,pw,bob@new\n"
			  "c@x,pw,alice@NEW\n", "h.example") < 0);
	test_assert(array_count(&errors) == 1);
	test_assert(has_error("line 4, column 3 (destination_user): duplicate destination user 'alice@NEW' (also on line 2)"));
	test_end();
}

static void test_batch_csv_header_errors(void)
{
	test_begin("batch csv: header row problems");
	test_assert(parse("", "h") < 0);
	test_assert(has_error("line 1: the file is empty"));
	test_assert(parse("\n\n  \n", "h") < 0);
	test_assert(has_error("the file is empty"));
	test_assert(parse("source_email,source_password,destination_user\n", "h") < 0);
	test_assert(has_error("no rows after the header row"));
	test_assert(parse("email,password,user\na,b,c\n", "h") < 0);
	test_assert(has_error("line 1, column 1: unknown column 'email'"));
	test_assert(has_error("line 1: the header row has no source_email column"));
	test_assert(has_error("the header row has no destination_user column"));
	/* rows aren't checked against a broken header */
	test_assert(!has_error("line 2"));
	/* no host anywhere: said once */
	test_assert(parse("source_email,source_password,destination_user\n"
			  "a@x,pw,a\nb@x,pw,b\n", NULL) < 0);
	test_assert(array_count(&errors) == 1);
	test_assert(has_error("line 1: no source_host column and no --host"));
	test_assert(parse("source_email,source_email,source_password,"
			  "destination_user\n", "h") < 0);
	test_assert(has_error("line 1, column 2: column source_email appears twice"));
	test_end();
}

static void test_batch_csv_hostile(void)
{
	static const unsigned char nul_csv[] =
		"source_email,source_password,destination_user\na,b\0,c\n";
	struct batch_csv_defaults defaults;
	string_t *big;
	unsigned int i;

	test_begin("batch csv: hostile input");
	/* unterminated quote: reported at the line it starts on */
	test_assert(parse("source_email,source_password,destination_user\n"
			  "a@x,\"pw,a\nb@x,pw,b\n", "h") < 0);
	test_assert(has_error("line 2, column 2: quoted field is never closed"));
	test_assert(parse("source_email,source_password,destination_user\n"
			  "a@x,\"pw\"x,a\n"
			  "b@x,p\"w,b\n"
			  "c@x,pw,c\n", "h") < 0);
	test_assert(has_error("line 2, column 2: text after a closing quote"));
	test_assert(has_error("line 3, column 2: quote inside an unquoted field"));
	test_assert(array_count(&errors) == 2);
	/* a line break inside a quoted user name: parsed, then refused */
	test_assert(parse("source_email,source_password,destination_user\n"
			  "a@x,pw,\"a\nb\"\nc@x,pw,c\n", "h") < 0);
	test_assert(has_error("line 2, column 3 (destination_user): contains a control character"));
	/* the next record is counted from the right line */
	test_assert(array_count(&rows) == 1);
	if (array_count(&rows) == 1) {
		const struct batch_csv_row *row = array_idx(&rows, 0);
		test_assert(row->line == 4);
	}
	/* not UTF-8 (Latin-1) */
	test_assert(parse("source_email,source_password,destination_user\n"
			  "a@x,pw,j\xf6rg\n", "h") < 0);
	test_assert(has_error("line 2, column 3 (destination_user): not valid UTF-8"));
	/* NUL bytes */
	i_zero(&defaults);
	defaults.host = "h";
	p_clear(pool);
	p_array_init(&rows, pool, 8);
	p_array_init(&errors, pool, 8);
	test_assert(batch_csv_parse(nul_csv, sizeof(nul_csv) - 1, pool,
				    &defaults, &rows, &errors,
				    &more_errors) < 0);
	test_assert(has_error("NUL bytes"));
	/* an overlong field */
	big = t_str_new(4096);
	str_append(big, "source_email,source_password,destination_user\na@x,");
	for (i = 0; i < BATCH_CSV_MAX_FIELD_LEN + 1; i++)
		str_append_c(big, 'p');
	str_append(big, ",a\n");
	test_assert(parse(str_c(big), "h") < 0);
	test_assert(has_error("line 2, column 2 (source_password): longer than 1024 bytes"));
	test_assert(!has_error("ppp"));
	/* a control character in a password */
	test_assert(parse("source_email,source_password,destination_user\n"
			  "a@x,p\x01w,a\n", "h") < 0);
	test_assert(has_error("line 2, column 2 (source_password): contains a control character"));
	test_end();
}

/* A hostile file can't make memory grow with it: the header has at most
   the known columns, a record at most one field more, problems beyond
   BATCH_CSV_MAX_ERRORS are only counted. */
static void test_batch_csv_limits(void)
{
	string_t *csv = t_str_new(1024 * 64);
	unsigned int i;

	test_begin("batch csv: limits");
	/* a header of 20000 columns: one problem, not 20000 */
	for (i = 0; i < 20000; i++)
		str_append(csv, "a,");
	str_append(csv, "a\nx,y,z\n");
	test_assert(parse(str_c(csv), "h") < 0);
	test_assert(has_error("line 1: the header row has more than the 6 known columns"));
	test_assert(array_count(&errors) == 1 && more_errors == 0);

	/* a row of 20000 fields: the same */
	str_truncate(csv, 0);
	str_append(csv, "source_email,source_password,destination_user\na@x,pw,");
	for (i = 0; i < 20000; i++)
		str_append(csv, "u,");
	str_append(csv, "u\n");
	test_assert(parse(str_c(csv), "h") < 0);
	test_assert(has_error("line 2: more than 7 fields, but the header row has 3"));
	test_assert(array_count(&errors) == 1);

	/* 5000 rows for one destination: 4999 duplicates, the first
	   BATCH_CSV_MAX_ERRORS listed, the others counted */
	str_truncate(csv, 0);
	str_append(csv, "source_email,source_password,destination_user\n");
	for (i = 0; i < 5000; i++)
		str_append(csv, "a@x,pw,same@y\n");
	test_assert(parse(str_c(csv), "h") < 0);
	test_assert(array_count(&errors) == BATCH_CSV_MAX_ERRORS);
	test_assert(more_errors == 4999 - BATCH_CSV_MAX_ERRORS);
	test_assert(has_error("line 1001, column 3 (destination_user): duplicate destination user 'same@y' (also on line 2)"));
	test_assert(array_count(&rows) == 1);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_batch_csv_three_columns,
		test_batch_csv_limits,
		test_batch_csv_six_columns,
		test_batch_csv_row_errors,
		test_batch_csv_duplicates,
		test_batch_csv_error_order,
		test_batch_csv_header_errors,
		test_batch_csv_hostile,
		NULL
	};
	int ret;

	pool = pool_alloconly_create("batch csv test", 4096);
	ret = test_run(test_functions);
	pool_unref(&pool);
	return ret;
}
