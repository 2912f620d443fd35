// The web page's files, embedded in the binary at build time (node/web/embed.cmake makes
// assets.cc from node/web/assets/), so a node or hub serves its page with nothing installed
// beside it and nothing fetched from elsewhere.
#ifndef PMDB_NODE_WEB_ASSETS_H_
#define PMDB_NODE_WEB_ASSETS_H_

#include <string_view>

namespace pmdb::web {

struct Asset {
  std::string_view path;  // "/" for index.html, "/app/<file>" for the others
  std::string_view content_type;
  std::string_view data;
};

// The file served at `path`, or null.
const Asset* FindAsset(std::string_view path);

}  // namespace pmdb::web

#endif  // PMDB_NODE_WEB_ASSETS_H_
