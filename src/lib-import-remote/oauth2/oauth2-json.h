#ifndef OAUTH2_JSON_H
#define OAUTH2_JSON_H

/* The members of one JSON object (json-object.h: Dovecot's parser) as the
   OAuth2 code takes them: a SASL error challenge, a token endpoint's
   answer, a service account's key file. Members whose value is an object
   or an array are passed over. Input is hostile: bounded, never trusted. */

/* Called for each member: key and value as text (a string unescaped; a
   number or literal as written). Non-printable and non-ASCII characters
   become '?'. */
typedef void oauth2_json_field_callback_t(const char *key, const char *value,
					  void *context);

enum oauth2_json_flags {
	/* a value (or key) longer than max_value is cut there (else the
	   object is refused) */
	OAUTH2_JSON_FLAG_TRUNCATE = 0x01,
	/* \n in a string is a line break (a PEM key), not '?' */
	OAUTH2_JSON_FLAG_NEWLINES = 0x02,
};

/* Parse data. Returns 0, or -1 with error_r. */
int oauth2_json_parse_flat(const unsigned char *data, size_t size,
			   size_t max_value, enum oauth2_json_flags flags,
			   oauth2_json_field_callback_t *callback,
			   void *context, const char **error_r);

#endif
