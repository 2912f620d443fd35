// Small builders of JSON documents over protobuf's google.protobuf.Value, for the standard
// HTTP APIs' answers: Obj({{"key", Str("value")}, {"n", Num(3)}}), printed by Json().
#ifndef PMDB_NODE_BEACON_JSON_H_
#define PMDB_NODE_BEACON_JSON_H_

#include <google/protobuf/struct.pb.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pmdb::beacon::json {

using google::protobuf::Value;

Value Str(std::string_view s);
Value Num(double d);
Value Bool(bool b);
Value Null();
Value Obj(std::initializer_list<std::pair<const char*, Value>> fields);
Value Arr(std::vector<Value> items);
// Sets `key` of the object `obj`.
void Set(Value* obj, const char* key, Value v);
// The document as compact JSON.
std::string Json(const Value& v);
// The field `key` of an object, or null when `v` is no object or has no such field.
const Value* Field(const Value& v, const char* key);

}  // namespace pmdb::beacon::json

#endif  // PMDB_NODE_BEACON_JSON_H_
