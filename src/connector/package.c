/*
 * package.c - the connector package folder, see package.h.
 */
#include "connector/package.h"

#include "connector/png.h"
#include "connector/pretty.h"
#include "connector/security.h"
#include "core/common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_PROPERTIES_BYTES (64 * 1024)
#define MAX_ICON_BYTES (1024 * 1024)

int md_connector_api_properties(const md_config_t *cfg, md_buf_t *out)
{
    const md_connector_conf_t *k = &cfg->connector;
    md_conn_auth_t auth;
    md_buf_init(out, MAX_PROPERTIES_BYTES);
    if (md_conn_auth_from_config(cfg, &auth, NULL) != MD_OK)
        return MD_EINVAL; /* md_swagger_build reports it, with the endpoints */
    md_jw_t w;
    md_jw_init(&w, out);
    md_jw_object(&w, NULL);
    md_jw_object(&w, "properties");
    md_conn_auth_write_parameters(&auth, &w);
    md_jw_string(&w, "iconBrandColor", k->brand_color ? k->brand_color : MD_CONNECTOR_DEFAULT_COLOR);
    md_jw_array(&w, "capabilities"); /* actions only: medley has no triggers */
    md_jw_end(&w);
    md_jw_string(&w, "publisher", k->contact_name);
    md_jw_string(&w, "stackOwner", k->contact_name);
    md_jw_end(&w);
    md_jw_end(&w);
    return md_jw_finish(&w);
}

/* Creates dir if missing; refuses one that holds anything unless force. */
static int prepare_dir(const char *dir, bool force, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT || mkdir(dir, 0755) != 0) {
            md_seterr(err, errlen, "cannot create %s: %s", dir, strerror(errno));
            return MD_EINVAL;
        }
        return MD_OK;
    }
    if (!S_ISDIR(st.st_mode)) {
        md_seterr(err, errlen, "%s exists and is not a directory", dir);
        return MD_EINVAL;
    }
    DIR *d = opendir(dir);
    if (!d) {
        md_seterr(err, errlen, "cannot read %s: %s", dir, strerror(errno));
        return MD_EINVAL;
    }
    bool empty = true;
    for (struct dirent *e; empty && (e = readdir(d));)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    if (!empty && !force) {
        md_seterr(err, errlen, "%s is not empty (use --force to overwrite the package files in it)", dir);
        return MD_EINVAL;
    }
    return MD_OK;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return MD_ERR;
        p += w;
        n -= (size_t)w;
    }
    return MD_OK;
}

/* Writes dir/name through a temporary file renamed into place. */
static int write_file(const char *dir, const char *name, const char *data, size_t len, char *err, size_t errlen)
{
    char path[4096], tmp[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
        (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= sizeof(tmp)) {
        md_seterr(err, errlen, "the path %s/%s is too long", dir, name);
        return MD_EINVAL;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    int rc = fd < 0 ? MD_ERR : write_all(fd, data, len);
    if (fd >= 0 && close(fd) != 0)
        rc = MD_ERR;
    if (rc == MD_OK && rename(tmp, path) != 0)
        rc = MD_ERR;
    if (rc != MD_OK) {
        int e = errno;
        if (fd >= 0)
            unlink(tmp);
        md_seterr(err, errlen, "cannot write %s: %s", path, strerror(e));
        return MD_EINVAL;
    }
    return MD_OK;
}

int md_connector_package(const char *dir, const md_config_t *cfg, const md_buf_t *definition, bool force,
                         char *err, size_t errlen)
{
    if (prepare_dir(dir, force, err, errlen) != MD_OK)
        return MD_EINVAL;
    md_buf_t props, icon;
    md_buf_init(&icon, MAX_ICON_BYTES);
    const char *color = cfg->connector.brand_color ? cfg->connector.brand_color : MD_CONNECTOR_DEFAULT_COLOR;
    int rc = md_connector_api_properties(cfg, &props);
    if (rc == MD_OK)
        rc = md_png_icon(color, &icon);
    if (rc != MD_OK) {
        md_seterr(err, errlen, "cannot build the package files: %s", md_strerror(rc));
        rc = MD_EINVAL;
    }
    if (rc == MD_OK)
        rc = write_file(dir, "apiDefinition.swagger.json", definition->data, definition->len, err, errlen);
    if (rc == MD_OK)
        rc = write_file(dir, "apiProperties.json", props.data, props.len, err, errlen);
    if (rc == MD_OK)
        rc = write_file(dir, "icon.png", icon.data, icon.len, err, errlen);
    md_buf_free(&props);
    md_buf_free(&icon);
    return rc;
}
