/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "istream.h"
#include "json-object.h"

#if DOVECOT_PREREQ(2, 4, 0)
#  include "json-istream.h"
#else
#  include "json-parser.h"
#endif

#undef json_object_read

#if DOVECOT_PREREQ(2, 4, 0)
/* A string may come as data (it held \u0000): a NUL becomes '?' */
static const char *json_object_node_text(const struct json_node *jnode)
{
	const unsigned char *data;
	size_t i, size;
	char *text;

	if (!json_node_is_string(jnode))
		return json_node_as_str(jnode);
	data = json_node_get_data(jnode, &size);
	text = t_malloc_no0(size + 1);
	for (i = 0; i < size; i++)
		text[i] = data[i] == '\0' ? '?' : (char)data[i];
	text[size] = '\0';
	return text;
}

static int
json_object_read_stream(struct istream *input,
			json_object_member_callback_t *callback, void *context,
			const char **error_r)
{
	struct json_istream *jinput;
	struct json_node jnode;
	enum json_object_value_type type;
	const char *error;
	int ret;

	jinput = json_istream_create_object(input, NULL, 0);
	while ((ret = json_istream_read_next(jinput, &jnode)) > 0) {
		if (json_node_is_end(&jnode))
			break;
		/* (read_next passes over an object or an array whole) */
		if (json_node_is_object(&jnode) || json_node_is_array(&jnode))
			continue;
		if (json_node_is_string(&jnode))
			type = JSON_OBJECT_VALUE_STRING;
		else if (json_node_is_number(&jnode))
			type = JSON_OBJECT_VALUE_NUMBER;
		else if (jnode.type == JSON_TYPE_TRUE ||
			 jnode.type == JSON_TYPE_FALSE)
			type = JSON_OBJECT_VALUE_BOOLEAN;
		else if (jnode.type == JSON_TYPE_NULL)
			type = JSON_OBJECT_VALUE_NULL;
		else
			continue;
		callback(jnode.name, type, json_object_node_text(&jnode),
			 context);
	}
	ret = json_istream_finish(&jinput, &error);
	if (ret <= 0) {
		*error_r = ret < 0 && error != NULL ? t_strdup(error) :
			"The JSON object ends too early";
		return -1;
	}
	return 0;
}
#else
static int
json_object_read_stream(struct istream *input,
			json_object_member_callback_t *callback, void *context,
			const char **error_r)
{
	struct json_parser *parser;
	enum json_type jtype;
	enum json_object_value_type type;
	const char *name, *value, *error = NULL;
	int ret;

	parser = json_parser_init(input);
	while ((ret = json_parse_next(parser, &jtype, &value)) > 0) {
		if (jtype != JSON_TYPE_OBJECT_KEY) {
			error = "A JSON object has only members";
			break;
		}
		name = t_strdup(value);
		if ((ret = json_parse_next(parser, &jtype, &value)) <= 0) {
			/* (2.3's parser says nothing of a member cut short) */
			error = "The JSON object ends too early";
			break;
		}
		switch (jtype) {
		case JSON_TYPE_OBJECT:
		case JSON_TYPE_ARRAY:
			/* passed over, whole */
			json_parse_skip(parser);
			continue;
		case JSON_TYPE_STRING:
			type = JSON_OBJECT_VALUE_STRING;
			break;
		case JSON_TYPE_NUMBER:
			type = JSON_OBJECT_VALUE_NUMBER;
			break;
		case JSON_TYPE_TRUE:
			type = JSON_OBJECT_VALUE_BOOLEAN;
			value = "true";
			break;
		case JSON_TYPE_FALSE:
			type = JSON_OBJECT_VALUE_BOOLEAN;
			value = "false";
			break;
		case JSON_TYPE_NULL:
			type = JSON_OBJECT_VALUE_NULL;
			value = "null";
			break;
		default:
			error = "A JSON object member without a value";
			break;
		}
		if (error != NULL)
			break;
		callback(name, type, value, context);
	}
	if (json_parser_deinit(&parser, &value) < 0 && error == NULL)
		error = value;
	if (error != NULL) {
		*error_r = t_strdup(error);
		return -1;
	}
	return 0;
}
#endif

int json_object_read(const void *data, size_t size,
		     json_object_member_callback_t *callback, void *context,
		     const char **error_r)
{
	const unsigned char *p = data, *end = p + size;
	struct istream *input;
	int ret;

	/* (2.3's parser takes any first character for the object's
	   opening) */
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	if (p == end || *p != '{') {
		*error_r = "Not a JSON object";
		return -1;
	}
	input = i_stream_create_from_data(p, end - p);
	ret = json_object_read_stream(input, callback, context, error_r);
	i_stream_unref(&input);
	return ret;
}
