/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "oauth2-json.h"

#include <ctype.h>

struct json_flat {
	const unsigned char *p, *end;
	size_t max_value;
	enum oauth2_json_flags flags;
	const char *error;
};

static void json_skip_ws(struct json_flat *j)
{
	while (j->p < j->end &&
	       (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' ||
		*j->p == '\n'))
		j->p++;
}

static int hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int json_append(struct json_flat *j, string_t *dest, unsigned char c)
{
	if (str_len(dest) < j->max_value) {
		str_append_c(dest, c);
		return 0;
	}
	if ((j->flags & OAUTH2_JSON_FLAG_TRUNCATE) != 0)
		return 0;
	j->error = "value too long";
	return -1;
}

static int json_read_string(struct json_flat *j, string_t *dest)
{
	unsigned char c;
	unsigned int i, code;
	int d;

	if (j->p >= j->end || *j->p != '"') {
		j->error = "expected a string";
		return -1;
	}
	j->p++;
	while (j->p < j->end && *j->p != '"') {
		c = *j->p++;
		if (c == '\\') {
			if (j->p >= j->end)
				break;
			c = *j->p++;
			switch (c) {
			case 'n':
				c = (j->flags & OAUTH2_JSON_FLAG_NEWLINES) != 0 ?
					'\n' : '?';
				break;
			case 'r': case 't': case 'b': case 'f':
				c = '?';
				break;
			case 'u':
				code = 0;
				for (i = 0; i < 4; i++) {
					if (j->p >= j->end ||
					    (d = hex_digit(*j->p)) < 0) {
						j->error = "invalid \\u escape";
						return -1;
					}
					code = code * 16 + d;
					j->p++;
				}
				c = code >= 0x20 && code < 0x7f ? code : '?';
				break;
			case '"': case '\\': case '/':
				break;
			default:
				j->error = "invalid escape";
				return -1;
			}
		} else if (c < 0x20) {
			j->error = "control character in a string";
			return -1;
		} else if (c >= 0x7f) {
			c = '?';
		}
		if (json_append(j, dest, c) < 0)
			return -1;
	}
	if (j->p >= j->end) {
		j->error = "unterminated string";
		return -1;
	}
	j->p++;
	return 0;
}

/* a string, or a number/true/false/null taken as its text */
static int json_read_value(struct json_flat *j, string_t *dest)
{
	if (j->p < j->end && *j->p == '"')
		return json_read_string(j, dest);
	while (j->p < j->end &&
	       (i_isalnum(*j->p) || *j->p == '-' || *j->p == '+' ||
		*j->p == '.')) {
		if (json_append(j, dest, *j->p) < 0)
			return -1;
		j->p++;
	}
	if (str_len(dest) == 0) {
		j->error = "expected a string, number or literal";
		return -1;
	}
	return 0;
}

static int json_flat_parse(struct json_flat *j,
			   oauth2_json_field_callback_t *callback,
			   void *context)
{
	string_t *key = t_str_new(64), *value = t_str_new(256);

	json_skip_ws(j);
	if (j->p >= j->end || *j->p != '{') {
		j->error = "not a JSON object";
		return -1;
	}
	j->p++;
	json_skip_ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
	} else for (;;) {
		str_truncate(key, 0);
		str_truncate(value, 0);
		json_skip_ws(j);
		if (json_read_string(j, key) < 0)
			return -1;
		json_skip_ws(j);
		if (j->p >= j->end || *j->p != ':') {
			j->error = "expected ':'";
			return -1;
		}
		j->p++;
		json_skip_ws(j);
		if (json_read_value(j, value) < 0)
			return -1;
		callback(str_c(key), str_c(value), context);

		json_skip_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			break;
		}
		j->error = "expected ',' or '}'";
		return -1;
	}
	json_skip_ws(j);
	if (j->p != j->end) {
		j->error = "data after the object";
		return -1;
	}
	return 0;
}

int oauth2_json_parse_flat(const unsigned char *data, size_t size,
			   size_t max_value, enum oauth2_json_flags flags,
			   oauth2_json_field_callback_t *callback,
			   void *context, const char **error_r)
{
	struct json_flat j;

	i_zero(&j);
	j.p = data;
	j.end = data + size;
	j.max_value = max_value;
	j.flags = flags;
	if (json_flat_parse(&j, callback, context) < 0) {
		*error_r = j.error;
		return -1;
	}
	return 0;
}
