#include "dataplane/engine/message_pvars.h"

namespace sipd::engine {

Value load_message_pv(Vm&, const Context&, VmState&, config::PvId, std::string_view, int64_t) {
  return Value::null();
}

}  // namespace sipd::engine
