#ifndef JSON_OBJECT_H
#define JSON_OBJECT_H

/* The members of one JSON object, read with Dovecot's JSON parser (its
   2.3 json_parser or its 2.4 json_istream): what a token endpoint, a SASL
   challenge, a service account's key file or a user's request is. */

enum json_object_value_type {
	JSON_OBJECT_VALUE_STRING,
	JSON_OBJECT_VALUE_NUMBER,
	JSON_OBJECT_VALUE_BOOLEAN,
	JSON_OBJECT_VALUE_NULL,
};

/* A member: its name, and its value as text (a string unescaped, a number
   as written, "true"/"false", "null"). Both are the sender's: any
   character (a NUL in a string becomes '?'). */
typedef void json_object_member_callback_t(const char *name,
					   enum json_object_value_type type,
					   const char *value, void *context);

/* Reads data, which must be one JSON object and nothing else; a member
   whose value is an object or an array is passed over. Returns 0, or -1
   with error_r when data is no JSON object. */
int json_object_read(const void *data, size_t size,
		     json_object_member_callback_t *callback, void *context,
		     const char **error_r);
#define json_object_read(data, size, callback, context, error_r) \
	json_object_read(data, size - \
		CALLBACK_TYPECHECK(callback, void (*)( \
			const char *, enum json_object_value_type, \
			const char *, typeof(context))), \
		(json_object_member_callback_t *)callback, context, error_r)

#endif
