#include "node/beacon/json.h"

#include <google/protobuf/util/json_util.h>

namespace pmdb::beacon::json {

Value Str(std::string_view s) {
  Value v;
  v.set_string_value(std::string(s));
  return v;
}

Value Num(double d) {
  Value v;
  v.set_number_value(d);
  return v;
}

Value Bool(bool b) {
  Value v;
  v.set_bool_value(b);
  return v;
}

Value Null() {
  Value v;
  v.set_null_value(google::protobuf::NULL_VALUE);
  return v;
}

Value Obj(std::initializer_list<std::pair<const char*, Value>> fields) {
  Value v;
  google::protobuf::Struct* s = v.mutable_struct_value();
  for (const auto& [k, x] : fields) (*s->mutable_fields())[k] = x;
  return v;
}

Value Arr(std::vector<Value> items) {
  Value v;
  google::protobuf::ListValue* l = v.mutable_list_value();
  for (Value& x : items) *l->add_values() = std::move(x);
  return v;
}

void Set(Value* obj, const char* key, Value v) {
  (*obj->mutable_struct_value()->mutable_fields())[key] = std::move(v);
}

std::string Json(const Value& v) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(v, &out, options);
  return out;
}

const Value* Field(const Value& v, const char* key) {
  if (!v.has_struct_value()) return nullptr;
  auto it = v.struct_value().fields().find(key);
  return it == v.struct_value().fields().end() ? nullptr : &it->second;
}

}  // namespace pmdb::beacon::json
