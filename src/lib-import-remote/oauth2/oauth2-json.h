#ifndef OAUTH2_JSON_H
#define OAUTH2_JSON_H

/* The members of one JSON object (json-object.h: Dovecot's parser) as the
   OAuth2 code takes them: a SASL error challenge, a token endpoint's
   answer, a service account's key file. Members whose value is an object
   or an array are passed over. Input is hostile: bounded, never trusted. */

/* A member wanted, and where in the caller's struct its value goes (a
   const char *): the text of a string unescaped, of a number or literal as
   written; a character not printable ASCII becomes '?'. A member given
   twice: the first counts. Two names may fill one field (aliases). */
struct oauth2_json_field {
	const char *name;
	size_t offset;
};
#define OAUTH2_JSON_FIELD(name, type, member) \
	{ name, offsetof(type, member) }

enum oauth2_json_flags {
	/* a value (or key) longer than max_value is cut there (else the
	   object is refused) */
	OAUTH2_JSON_FLAG_TRUNCATE = 0x01,
	/* \n in a string is a line break (a PEM key), not '?' */
	OAUTH2_JSON_FLAG_NEWLINES = 0x02,
};

/* Parse data into dest's fields (fields ends with a NULL name); the
   values are allocated from the data stack. Returns 0, or -1 with
   error_r. */
int oauth2_json_parse_flat(const unsigned char *data, size_t size,
			   size_t max_value, enum oauth2_json_flags flags,
			   const struct oauth2_json_field *fields, void *dest,
			   const char **error_r);

#endif
