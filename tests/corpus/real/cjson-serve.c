/* A small long-running service over the real cJSON library (libcjson and
 * libcjson_utils from Debian's cjson source package): it builds one document
 * at start, then answers one JSON Pointer (RFC 6901) per input line with the
 * item it names, printed without formatting, or "not found".  The target of
 * the real-project live-patch test tests/corpus/real/cjson.sh: the pointer
 * decoding that the CVE-2025-57052 fix changes runs for every line.
 *
 *   "/list/3"  -> 3      (the document is {"list":[0,1,...,24],"name":"xsplice"})
 *   "/name"    -> "xsplice"
 *   "#"        -> the number of requests answered so far (the process's state)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <cJSON_Utils.h>

int main(void)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON *list = cJSON_AddArrayToObject(doc, "list");
	char line[4096];
	unsigned long served = 0;

	for (int i = 0; i < 25; i++)
		cJSON_AddItemToArray(list, cJSON_CreateNumber(i));
	cJSON_AddStringToObject(doc, "name", "xsplice");

	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "#") == 0) {
			printf("%lu\n", served);
		} else {
			cJSON *item = cJSONUtils_GetPointer(doc, line);
			char *text = item ? cJSON_PrintUnformatted(item) : NULL;

			printf("%s\n", text ? text : "not found");
			free(text);
			served++;
		}
		fflush(stdout);
	}
	cJSON_Delete(doc);
	return 0;
}
