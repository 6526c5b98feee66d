/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* libFuzzer: an automatic import's state file (queue/trigger-state.c), as
   a login reads it from the user's home; what parses is written back,
   read again and must come back the same */

#include "fuzz-common.h"
#include "trigger-state.h"

static void fuzz_one(const unsigned char *data, size_t size)
{
	struct trigger_state state, again;
	const char *path, *error;
	pool_t pool;
	int ret;

	path = t_strconcat(fuzz_tmp_dir, "/"TRIGGER_STATE_FILE_NAME, NULL);
	fuzz_write_file(path, data, size);

	pool = pool_alloconly_create("fuzz trigger state", 512);
	ret = trigger_state_read(path, pool, &state, &error);
	i_assert(ret >= 0);
	if (ret > 0) {
		(void)trigger_state_name(state.state);
		(void)strlen(trigger_state_json(&state));
		if (trigger_state_write(path, &state, &error) < 0)
			i_fatal("%s", error);
		ret = trigger_state_read(path, pool, &again, &error);
		i_assert(ret > 0);
		i_assert(strcmp(state.source_key, again.source_key) == 0);
		i_assert(state.state == again.state);
		i_assert(state.job_id == again.job_id);
		i_assert(state.msgs_done == again.msgs_done &&
			 state.msgs_total == again.msgs_total &&
			 state.imported == again.imported &&
			 state.folders == again.folders);
		i_assert(strcmp(state.error_code, again.error_code) == 0);
	}
	pool_unref(&pool);
}
