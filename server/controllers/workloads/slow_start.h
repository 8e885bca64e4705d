// Kubernetes' slowStartBatch: runs `fn` `count` times in batches of 1, 2, 4, ... calls (each
// batch concurrently), stopping after the first batch with a failure, so that a call that
// fails (a quota, an admission webhook) fails a few times rather than `count` times.
#pragma once

#include <functional>

#include "common/result.h"

namespace nave::controllers::workloads {

struct SlowStartOutcome {
  int succeeded = 0;
  Result<void> firstError;  // ok when every call made succeeded
};

SlowStartOutcome slowStartBatch(int count, int initialBatchSize,
                                const std::function<Result<void>()>& fn);

}  // namespace nave::controllers::workloads
