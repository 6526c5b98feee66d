#ifndef OAUTH2_JSON_H
#define OAUTH2_JSON_H

/* A reader of one flat JSON object (strings, numbers, true/false/null):
   all a SASL error challenge or a token endpoint's answer is. Nested
   values are refused. Input is hostile: bounded, never trusted. */

/* Called for each member: key and value as text (a string unescaped; a
   number or literal as written). Non-printable and non-ASCII characters
   become '?'. */
typedef void oauth2_json_field_callback_t(const char *key, const char *value,
					  void *context);

/* Parse data. A value (or key) longer than max_value is cut there when
   truncate, else the object is refused. Returns 0, or -1 with error_r. */
int oauth2_json_parse_flat(const unsigned char *data, size_t size,
			   size_t max_value, bool truncate,
			   oauth2_json_field_callback_t *callback,
			   void *context, const char **error_r);

#endif
