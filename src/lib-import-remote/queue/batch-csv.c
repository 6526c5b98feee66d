/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "hash.h"
#include "str.h"
#include "str-sanitize.h"
#include "unichar.h"

#include <ctype.h>
#include "batch-csv.h"

static const char *const batch_csv_column_names[BATCH_CSV_COLUMN_COUNT] = {
	[BATCH_CSV_SOURCE_EMAIL] = "source_email",
	[BATCH_CSV_SOURCE_PASSWORD] = "source_password",
	[BATCH_CSV_DESTINATION_USER] = "destination_user",
	[BATCH_CSV_SOURCE_HOST] = "source_host",
	[BATCH_CSV_SOURCE_PORT] = "source_port",
	[BATCH_CSV_SOURCE_SECURITY] = "source_security",
};
/* the columns every file has */
#define BATCH_CSV_REQUIRED_COLUMNS 3

struct batch_csv_field {
	const char *value;
	unsigned int line;
	bool quoted;
};
ARRAY_DEFINE_TYPE(batch_csv_field, struct batch_csv_field);
/* destination user -> the line it is first on */
HASH_TABLE_DEFINE_TYPE(batch_csv_dest_lines, const char *, void *);

struct batch_csv_parser {
	pool_t pool;
	const unsigned char *p, *end;
	unsigned int line;
	ARRAY_TYPE(batch_csv_error) *errors;
	/* problems beyond BATCH_CSV_MAX_ERRORS */
	unsigned int more_errors;
	/* which field of a record holds which column (-1 = none) */
	int field_column[BATCH_CSV_COLUMN_COUNT];
	/* the header's fields; 0 while reading the header */
	unsigned int field_count;
	const struct batch_csv_defaults *defaults;
};
/* fields read of a record at the most: one more than a valid record has,
   to tell that it has too many */
#define BATCH_CSV_MAX_FIELDS (BATCH_CSV_COLUMN_COUNT + 1)

const char *batch_csv_column_name(enum batch_csv_column column)
{
	i_assert(column < BATCH_CSV_COLUMN_COUNT);
	return batch_csv_column_names[column];
}

const char *batch_csv_error_str(const struct batch_csv_error *error)
{
	string_t *str = t_str_new(128);

	str_printfa(str, "line %u", error->line);
	if (error->column != 0)
		str_printfa(str, ", column %u", error->column);
	if (error->field != NULL)
		str_printfa(str, " (%s)", error->field);
	str_printfa(str, ": %s", error->reason);
	return str_c(str);
}

static bool
batch_csv_push_error(pool_t pool, ARRAY_TYPE(batch_csv_error) *errors,
		     unsigned int line, unsigned int column,
		     const char *field, const char *reason)
{
	struct batch_csv_error *error;

	if (array_count(errors) >= BATCH_CSV_MAX_ERRORS)
		return FALSE;
	error = array_append_space(errors);
	error->line = line;
	error->column = column;
	error->field = field;
	error->reason = p_strdup(pool, reason);
	return TRUE;
}

static bool batch_csv_error_before(const struct batch_csv_error *a,
				   const struct batch_csv_error *b)
{
	if (a->line != b->line)
		return a->line < b->line;
	return a->column < b->column;
}

void batch_csv_errors_sort(ARRAY_TYPE(batch_csv_error) *errors)
{
	struct batch_csv_error *errs, tmp;
	unsigned int i, j, count;

	/* an insertion sort: stable, and the errors are at most
	   BATCH_CSV_MAX_ERRORS, nearly in order already */
	errs = array_get_modifiable(errors, &count);
	for (i = 1; i < count; i++) {
		tmp = errs[i];
		for (j = i; j > 0 && batch_csv_error_before(&tmp, &errs[j-1]); j--)
			errs[j] = errs[j-1];
		errs[j] = tmp;
	}
}

static void
batch_csv_parser_push_error(struct batch_csv_parser *parser, unsigned int line,
			    unsigned int column, const char *field,
			    const char *reason)
{
	if (!batch_csv_push_error(parser->pool, parser->errors, line, column,
				  field, reason))
		parser->more_errors++;
}

static void ATTR_FORMAT(4, 5)
batch_csv_error(struct batch_csv_parser *parser, unsigned int line,
		unsigned int column_pos, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	batch_csv_parser_push_error(parser, line, column_pos, NULL,
				    t_strdup_vprintf(fmt, args));
	va_end(args);
}

bool batch_csv_add_row_error(pool_t pool, ARRAY_TYPE(batch_csv_error) *errors,
			     const struct batch_csv_row *row,
			     enum batch_csv_column column, const char *reason)
{
	return batch_csv_push_error(pool, errors, row->line,
				    row->column_pos[column],
				    batch_csv_column_name(column), reason);
}

/* A quoted value, for messages: never a password's */
static const char *batch_csv_quote(const char *value)
{
	return t_strdup_printf("'%s'", str_sanitize(value, 64));
}

static bool batch_csv_at_eol(struct batch_csv_parser *parser)
{
	return parser->p == parser->end || *parser->p == '\n' ||
		(*parser->p == '\r' && parser->p + 1 < parser->end &&
		 parser->p[1] == '\n');
}

static void batch_csv_skip_eol(struct batch_csv_parser *parser)
{
	if (parser->p < parser->end && *parser->p == '\r')
		parser->p++;
	if (parser->p < parser->end && *parser->p == '\n') {
		parser->p++;
		parser->line++;
	}
}

/* One field; the parser stays on the ',' or line end after it. Returns 0,
   or -1 on a quoting error (reported; the rest of the line is skipped). */
static int batch_csv_read_field(struct batch_csv_parser *parser,
				unsigned int field_idx,
				struct batch_csv_field *field_r)
{
	/* what is longer than the longest value allowed is cut (and
	   reported by batch_csv_check_field()) */
	string_t *value = t_str_new(128);
#define BATCH_CSV_APPEND(c) STMT_START { \
	if (str_len(value) <= BATCH_CSV_MAX_FIELD_LEN) \
		str_append_c(value, (c)); \
	} STMT_END
	unsigned int start_line = parser->line;

	i_zero(field_r);
	field_r->line = start_line;
	if (parser->p < parser->end && *parser->p == '"') {
		/* quoted: "" is a quote; commas and line ends are data */
		field_r->quoted = TRUE;
		parser->p++;
		for (;;) {
			if (parser->p == parser->end) {
				batch_csv_error(parser, start_line,
					field_idx + 1,
					"quoted field is never closed");
				return -1;
			}
			if (*parser->p == '"') {
				if (parser->p + 1 < parser->end &&
				    parser->p[1] == '"') {
					BATCH_CSV_APPEND('"');
					parser->p += 2;
					continue;
				}
				parser->p++;
				break;
			}
			if (*parser->p == '\n')
				parser->line++;
			BATCH_CSV_APPEND(*parser->p);
			parser->p++;
		}
		if (!batch_csv_at_eol(parser) && *parser->p != ',') {
			batch_csv_error(parser, parser->line, field_idx + 1,
				"text after a closing quote (quote the whole "
				"field and double the quotes inside it)");
			return -1;
		}
	} else {
		while (!batch_csv_at_eol(parser) && *parser->p != ',') {
			if (*parser->p == '"') {
				batch_csv_error(parser, parser->line,
					field_idx + 1,
					"quote inside an unquoted field (quote "
					"the whole field and double the quotes "
					"inside it)");
				return -1;
			}
			BATCH_CSV_APPEND(*parser->p);
			parser->p++;
		}
	}
#undef BATCH_CSV_APPEND
	/* the record's values live on the data stack: the row keeps what
	   it needs in the pool */
	field_r->value = str_c(value);
	return 0;
}

static void batch_csv_skip_line(struct batch_csv_parser *parser)
{
	while (!batch_csv_at_eol(parser))
		parser->p++;
	batch_csv_skip_eol(parser);
}

/* One record. Returns 1, 0 at the end of the file, -1 on a quoting error
   (reported, and the record skipped). Blank lines are skipped. */
static int batch_csv_read_record(struct batch_csv_parser *parser,
				 ARRAY_TYPE(batch_csv_field) *fields,
				 unsigned int *line_r)
{
	struct batch_csv_field field;

	array_clear(fields);
	for (;;) {
		const unsigned char *p = parser->p;

		if (p == parser->end)
			return 0;
		while (p < parser->end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == parser->end) {
			parser->p = p;
			return 0;
		}
		if (*p != '\n' && *p != '\r')
			break;
		parser->p = p;
		if (!batch_csv_at_eol(parser))
			break;
		batch_csv_skip_eol(parser);
	}
	*line_r = parser->line;
	for (;;) {
		if (batch_csv_read_field(parser, array_count(fields),
					 &field) < 0) {
			batch_csv_skip_line(parser);
			return -1;
		}
		array_push_back(fields, &field);
		if (batch_csv_at_eol(parser))
			break;
		if (array_count(fields) == BATCH_CSV_MAX_FIELDS) {
			/* no need to read (and keep) the rest */
			if (parser->field_count == 0) {
				batch_csv_error(parser, *line_r, 0,
					"the header row has more than the %u "
					"known columns", BATCH_CSV_COLUMN_COUNT);
			} else {
				batch_csv_error(parser, *line_r, 0,
					"more than %u fields, but the header "
					"row has %u (quote fields that contain "
					"commas)", BATCH_CSV_MAX_FIELDS,
					parser->field_count);
			}
			batch_csv_skip_line(parser);
			return -1;
		}
		/* the ',' */
		parser->p++;
	}
	batch_csv_skip_eol(parser);
	return 1;
}

/* the value with surrounding blanks removed (unquoted fields only:
   quoting keeps them) */
static const char *
batch_csv_field_value(pool_t pool, const struct batch_csv_field *field)
{
	const char *value = field->value;
	size_t len;

	if (field->quoted)
		return p_strdup(pool, value);
	while (*value == ' ' || *value == '\t')
		value++;
	len = strlen(value);
	while (len > 0 && (value[len-1] == ' ' || value[len-1] == '\t'))
		len--;
	return p_strndup(pool, value, len);
}

static int batch_csv_parse_header(struct batch_csv_parser *parser,
				  const ARRAY_TYPE(batch_csv_field) *fields,
				  unsigned int line)
{
	const struct batch_csv_field *field;
	unsigned int i, column;
	const char *name;
	int ret = 0;

	for (column = 0; column < BATCH_CSV_COLUMN_COUNT; column++)
		parser->field_column[column] = -1;
	parser->field_count = array_count(fields);
	array_foreach(fields, field) {
		i = array_foreach_idx(fields, field);
		name = t_str_lcase(batch_csv_field_value(
			pool_datastack_create(), field));
		for (column = 0; column < BATCH_CSV_COLUMN_COUNT; column++) {
			if (strcmp(name, batch_csv_column_names[column]) == 0)
				break;
		}
		if (column == BATCH_CSV_COLUMN_COUNT) {
			batch_csv_error(parser, line, i + 1,
				"unknown column %s in the header row (columns: "
				"source_email, source_password, "
				"destination_user, and optionally source_host, "
				"source_port, source_security)",
				batch_csv_quote(name));
			ret = -1;
		} else if (parser->field_column[column] != -1) {
			batch_csv_error(parser, line, i + 1,
				"column %s appears twice in the header row",
				name);
			ret = -1;
		} else {
			parser->field_column[column] = i;
		}
	}
	if (parser->defaults->shared_grant &&
	    parser->field_column[BATCH_CSV_SOURCE_PASSWORD] != -1) {
		batch_csv_error(parser, line,
			parser->field_column[BATCH_CSV_SOURCE_PASSWORD] + 1,
			"the batch signs in with one OAuth2 grant: the file "
			"must not hold passwords (columns: source_email, "
			"destination_user)");
		ret = -1;
	}
	for (column = 0; column < BATCH_CSV_REQUIRED_COLUMNS; column++) {
		if (column == BATCH_CSV_SOURCE_PASSWORD &&
		    parser->defaults->shared_grant)
			continue;
		if (parser->field_column[column] == -1) {
			batch_csv_error(parser, line, 0,
				"the header row has no %s column",
				batch_csv_column_names[column]);
			ret = -1;
		}
	}
	return ret;
}

static bool batch_csv_host_is_valid(const char *host)
{
	const char *p;

	if (strlen(host) > 255)
		return FALSE;
	for (p = host; *p != '\0'; p++) {
		if (!i_isalnum(*p) && strchr(".-_:[]", *p) == NULL)
			return FALSE;
	}
	return TRUE;
}

static void batch_csv_column_error(struct batch_csv_parser *parser,
				   unsigned int line,
				   enum batch_csv_column column,
				   const char *reason)
{
	int pos = parser->field_column[column];

	batch_csv_parser_push_error(parser, line,
				    pos < 0 ? 0 : (unsigned int)pos + 1,
				    batch_csv_column_name(column), reason);
}

/* A field's checks common to every column. Returns the value, or NULL
   (reported). */
static const char *
batch_csv_check_field(struct batch_csv_parser *parser, unsigned int line,
		      const struct batch_csv_field *field,
		      enum batch_csv_column column)
{
	const char *value;
	const unsigned char *p;

	/* a password keeps its blanks */
	value = column == BATCH_CSV_SOURCE_PASSWORD ?
		p_strdup(parser->pool, field->value) :
		batch_csv_field_value(parser->pool, field);
	if (strlen(value) > BATCH_CSV_MAX_FIELD_LEN) {
		batch_csv_column_error(parser, line, column, t_strdup_printf(
			"longer than %u bytes", BATCH_CSV_MAX_FIELD_LEN));
		return NULL;
	}
	if (!uni_utf8_str_is_valid(value)) {
		batch_csv_column_error(parser, line, column,
			"not valid UTF-8 (save the file as CSV, UTF-8)");
		return NULL;
	}
	for (p = (const unsigned char *)value; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			batch_csv_column_error(parser, line, column,
				"contains a control character or line break");
			return NULL;
		}
	}
	return value;
}

/* Check one data record and fill row. Returns 0, or -1 (reported). */
static int batch_csv_parse_row(struct batch_csv_parser *parser,
			       const ARRAY_TYPE(batch_csv_field) *fields,
			       unsigned int line,
			       const struct batch_csv_defaults *defaults,
			       struct batch_csv_row *row_r)
{
	const char *values[BATCH_CSV_COLUMN_COUNT];
	unsigned int column, port;
	int pos, ret = 0;

	i_zero(row_r);
	row_r->line = line;
	row_r->dest_user = "";
	if (array_count(fields) != parser->field_count) {
		batch_csv_error(parser, line, 0, "%u fields, but the header "
				"row has %u (quote fields that contain commas)",
				array_count(fields), parser->field_count);
		return -1;
	}
	for (column = 0; column < BATCH_CSV_COLUMN_COUNT; column++) {
		pos = parser->field_column[column];
		values[column] = "";
		if (pos < 0)
			continue;
		row_r->column_pos[column] = pos + 1;
		values[column] = batch_csv_check_field(parser, line,
			array_idx(fields, pos), column);
		if (values[column] == NULL) {
			values[column] = "";
			ret = -1;
		}
	}
	if (ret < 0) {
		/* still known for the duplicate check */
		row_r->dest_user = values[BATCH_CSV_DESTINATION_USER];
		return -1;
	}

	row_r->source_user = values[BATCH_CSV_SOURCE_EMAIL];
	row_r->source_password = values[BATCH_CSV_SOURCE_PASSWORD];
	row_r->dest_user = values[BATCH_CSV_DESTINATION_USER];
	if (row_r->source_user[0] == '\0') {
		batch_csv_column_error(parser, line, BATCH_CSV_SOURCE_EMAIL,
				       "missing source email");
		ret = -1;
	}
	if (row_r->source_password[0] == '\0' && !defaults->shared_grant) {
		batch_csv_column_error(parser, line, BATCH_CSV_SOURCE_PASSWORD,
				       "missing password");
		ret = -1;
	}
	if (row_r->dest_user[0] == '\0') {
		batch_csv_column_error(parser, line,
				       BATCH_CSV_DESTINATION_USER,
				       "missing destination user");
		ret = -1;
	}

	row_r->host = values[BATCH_CSV_SOURCE_HOST][0] != '\0' ?
		values[BATCH_CSV_SOURCE_HOST] : defaults->host;
	if (row_r->host == NULL) {
		batch_csv_column_error(parser, line, BATCH_CSV_SOURCE_HOST,
			"no source host (give batch create --host, or a "
			"source_host column)");
		ret = -1;
	} else if (!batch_csv_host_is_valid(row_r->host)) {
		batch_csv_column_error(parser, line, BATCH_CSV_SOURCE_HOST,
			t_strdup_printf("invalid host name %s (letters, digits, "
					"'.', '-'; IDN names in their xn-- "
					"form)", batch_csv_quote(row_r->host)));
		ret = -1;
	}
	row_r->port = defaults->port;
	if (values[BATCH_CSV_SOURCE_PORT][0] != '\0') {
		if (str_to_uint(values[BATCH_CSV_SOURCE_PORT], &port) < 0 ||
		    port == 0 || port > 65535) {
			batch_csv_column_error(parser, line,
				BATCH_CSV_SOURCE_PORT, t_strdup_printf(
				"invalid port %s (1-65535)", batch_csv_quote(
				values[BATCH_CSV_SOURCE_PORT])));
			ret = -1;
		} else {
			row_r->port = port;
		}
	}
	row_r->ssl = defaults->ssl;
	if (values[BATCH_CSV_SOURCE_SECURITY][0] != '\0' &&
	    import_remote_ssl_parse(values[BATCH_CSV_SOURCE_SECURITY],
				    &row_r->ssl) < 0) {
		batch_csv_column_error(parser, line, BATCH_CSV_SOURCE_SECURITY,
			t_strdup_printf("invalid security %s (ssl, tls, "
				"starttls or none)", batch_csv_quote(
				values[BATCH_CSV_SOURCE_SECURITY])));
		ret = -1;
	}
	return ret;
}

/* Check a record and keep it as a row if it is valid; a destination
   named twice is an error on its second row. */
static void
batch_csv_add_row(struct batch_csv_parser *parser,
		  const ARRAY_TYPE(batch_csv_field) *fields, unsigned int line,
		  const struct batch_csv_defaults *defaults,
		  HASH_TABLE_TYPE(batch_csv_dest_lines) dest_lines,
		  ARRAY_TYPE(batch_csv_row) *rows)
{
	struct batch_csv_row row;
	void *first_line;
	int ret;

	ret = batch_csv_parse_row(parser, fields, line, defaults, &row);
	if (row.dest_user == NULL || row.dest_user[0] == '\0')
		return;
	/* a row with other errors still claims its destination */
	first_line = hash_table_lookup(dest_lines, row.dest_user);
	if (first_line != NULL) {
		batch_csv_parser_push_error(parser, row.line,
			row.column_pos[BATCH_CSV_DESTINATION_USER],
			batch_csv_column_name(BATCH_CSV_DESTINATION_USER),
			t_strdup_printf("duplicate destination user %s (also "
				"on line %u): one import per mailbox",
				batch_csv_quote(row.dest_user),
				POINTER_CAST_TO(first_line, unsigned int)));
		return;
	}
	hash_table_insert(dest_lines, row.dest_user, POINTER_CAST(row.line));
	if (ret == 0)
		array_push_back(rows, &row);
}

static int
batch_csv_parse_file(const unsigned char *data, size_t size, pool_t pool,
		     const struct batch_csv_defaults *defaults,
		     ARRAY_TYPE(batch_csv_row) *rows,
		     ARRAY_TYPE(batch_csv_error) *errors,
		     unsigned int *more_errors_r)
{
	struct batch_csv_parser parser;
	ARRAY_TYPE(batch_csv_field) fields;
	HASH_TABLE_TYPE(batch_csv_dest_lines) dest_lines;
	unsigned int line;
	int ret;

	i_zero(&parser);
	parser.pool = pool;
	parser.p = data;
	parser.end = data + size;
	parser.line = 1;
	parser.errors = errors;
	parser.defaults = defaults;
	*more_errors_r = 0;
	/* a UTF-8 byte order mark, as spreadsheets write */
	if (size >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		parser.p += 3;
	if (memchr(data, '\0', size) != NULL) {
		batch_csv_error(&parser, 1, 0, "the file contains NUL bytes: "
				"not a text CSV file (save it as CSV, UTF-8)");
		return -1;
	}

	/* never grows: a record has BATCH_CSV_MAX_FIELDS at the most */
	t_array_init(&fields, BATCH_CSV_MAX_FIELDS);
	ret = batch_csv_read_record(&parser, &fields, &line);
	if (ret == 0) {
		batch_csv_error(&parser, 1, 0, "the file is empty: it needs a "
				"header row and a row per mailbox");
		return -1;
	}
	if (ret < 0 || batch_csv_parse_header(&parser, &fields, line) < 0) {
		/* rows can't be checked against a broken header */
		*more_errors_r = parser.more_errors;
		return -1;
	}
	if (parser.field_column[BATCH_CSV_SOURCE_HOST] == -1 &&
	    defaults->host == NULL) {
		/* said once, not on every row */
		batch_csv_error(&parser, line, 0, "no source_host column and "
				"no --host: give batch create --host, or a "
				"source_host column");
		return -1;
	}

	hash_table_create(&dest_lines, default_pool, 0,
			  strcase_hash, strcasecmp);
	do T_BEGIN {
		/* a record's garbage goes with it */
		ret = batch_csv_read_record(&parser, &fields, &line);
		if (ret > 0)
			batch_csv_add_row(&parser, &fields, line, defaults,
					  dest_lines, rows);
	} T_END; while (ret != 0);
	hash_table_destroy(&dest_lines);
	if (array_count(errors) == 0 && array_count(rows) == 0) {
		batch_csv_error(&parser, parser.line, 0, "no rows after the "
				"header row: nothing to import");
	}
	*more_errors_r = parser.more_errors;
	return array_count(errors) == 0 ? 0 : -1;
}

int batch_csv_parse(const unsigned char *data, size_t size, pool_t pool,
		    const struct batch_csv_defaults *defaults,
		    ARRAY_TYPE(batch_csv_row) *rows,
		    ARRAY_TYPE(batch_csv_error) *errors,
		    unsigned int *more_errors_r)
{
	int ret;

	T_BEGIN {
		ret = batch_csv_parse_file(data, size, pool, defaults, rows,
					   errors, more_errors_r);
	} T_END;
	return ret;
}
