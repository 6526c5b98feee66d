#ifndef IMPORT_REMOTE_QUEUE_H
#define IMPORT_REMOTE_QUEUE_H

/* The mail plugin's heavy half: the job store, its SQL driver and the
   password encryption. The plugin loads it (from the module dir's
   import-remote/) only when a login has to queue or check an import, so
   that every other login loads none of it. */

struct module;
struct mail_user;

#define IMPORT_REMOTE_QUEUE_MODULE_DIR "import-remote"
#define IMPORT_REMOTE_QUEUE_MODULE_NAME "import_remote_queue"
/* the function the plugin looks up */
#define IMPORT_REMOTE_QUEUE_SYMBOL "import_remote_queue_user"

typedef int import_remote_queue_user_t(struct mail_user *user,
				       const char **error_r);

/* a user's own request over METADATA (user-request.h): the action is
   enum user_request_action */
#define IMPORT_REMOTE_QUEUE_REQUEST_SYMBOL "import_remote_queue_request"
#define IMPORT_REMOTE_QUEUE_HISTORY_SYMBOL "import_remote_queue_history"
typedef int import_remote_queue_request_t(struct mail_user *user,
					  unsigned int action, char *value,
					  const char **error_r);
typedef int import_remote_queue_history_t(struct mail_user *user,
					  const char **json_r,
					  const char **error_r);

extern const char *import_remote_queue_version;

void import_remote_queue_init(struct module *module);
void import_remote_queue_deinit(void);

/* trigger_queue(): ask the store, queue the import if it is due */
int import_remote_queue_user(struct mail_user *user, const char **error_r);
/* user_request(), user_request_history() */
int import_remote_queue_request(struct mail_user *user, unsigned int action,
				char *value, const char **error_r);
int import_remote_queue_history(struct mail_user *user, const char **json_r,
				const char **error_r);

#endif
