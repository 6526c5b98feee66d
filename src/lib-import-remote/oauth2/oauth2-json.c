/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "unichar.h"
#include "json-object.h"
#include "oauth2-json.h"

struct oauth2_json_ctx {
	size_t max_value;
	enum oauth2_json_flags flags;
	const struct oauth2_json_field *fields;
	void *dest;
	const char *error;
};

/* The sender's text as the callers take it: printable ASCII ('?' for the
   rest, a line break only where asked for), at most max_value bytes (cut
   there, or refused) */
static const char *
oauth2_json_clean(struct oauth2_json_ctx *ctx, const char *text)
{
	size_t i, len = strlen(text);
	string_t *str;
	unichar_t chr;
	int n;

	if (len > ctx->max_value) {
		if ((ctx->flags & OAUTH2_JSON_FLAG_TRUNCATE) == 0) {
			ctx->error = "value too long";
			return NULL;
		}
		len = ctx->max_value;
	}
	/* a character (not a byte) that isn't printable ASCII is one '?' */
	str = t_str_new(len + 1);
	for (i = 0; i < len; i += n) {
		n = uni_utf8_get_char_n(text + i, len - i, &chr);
		if (n <= 0) {
			n = 1;
			chr = 0xfffd;
		}
		if (chr == '\n' && (ctx->flags & OAUTH2_JSON_FLAG_NEWLINES) != 0)
			str_append_c(str, '\n');
		else
			str_append_c(str, chr >= 0x20 && chr < 0x7f ? chr : '?');
	}
	return str_c(str);
}

static void
oauth2_json_member(const char *name, enum json_object_value_type type,
		   const char *value, struct oauth2_json_ctx *ctx)
{
	const struct oauth2_json_field *field;
	const char *key, **dest;

	if (ctx->error != NULL || type == JSON_OBJECT_VALUE_NESTED)
		return;
	key = oauth2_json_clean(ctx, name);
	value = key == NULL ? NULL : oauth2_json_clean(ctx, value);
	if (value == NULL)
		return;
	for (field = ctx->fields; field->name != NULL; field++) {
		if (strcmp(field->name, key) != 0)
			continue;
		dest = PTR_OFFSET(ctx->dest, field->offset);
		if (*dest == NULL)
			*dest = value;
		break;
	}
}

int oauth2_json_parse_flat(const unsigned char *data, size_t size,
			   size_t max_value, enum oauth2_json_flags flags,
			   const struct oauth2_json_field *fields, void *dest,
			   const char **error_r)
{
	struct oauth2_json_ctx ctx;
	const char *error;

	i_zero(&ctx);
	ctx.max_value = max_value;
	ctx.flags = flags;
	ctx.fields = fields;
	ctx.dest = dest;
	/* (the parser's own words are left out: they may quote the
	   sender's text, a token among it) */
	if (json_object_read(data, size, oauth2_json_member, &ctx, &error) < 0) {
		*error_r = "invalid JSON";
		return -1;
	}
	if (ctx.error != NULL) {
		*error_r = ctx.error;
		return -1;
	}
	return 0;
}
