// Messages over the size limit are refused by grpc-js itself: its base call answers the peer
// RESOURCE_EXHAUSTED from inside (this.sendStatus), past every interceptor's responder, and the
// service handler only sees the call cancelled, as for a peer that went away. To count such a
// message as a refusal and name it when its sender is evicted, this interceptor (first in the list,
// so that it is handed the base call) wraps that call's sendStatus and reports the peer's address.
// tests/distributed/fuzz.test.ts ('oversize') pins this to the grpc-js version in package.json.

import * as grpc from '@grpc/grpc-js';

/** Calls `onOversize(peer, details)` when grpc-js refuses a message of `peer` as too large on a call of `methodPath`. */
export function oversizeInterceptor(methodPath: string, onOversize: (peer: string, details: string) => void): grpc.ServerInterceptor {
  return (method, call) => {
    if (method.path !== methodPath) return new grpc.ServerInterceptingCall(call);
    const sendStatus = call.sendStatus.bind(call);
    call.sendStatus = (status: Parameters<typeof sendStatus>[0]): void => {
      if (status.code === grpc.status.RESOURCE_EXHAUSTED && /larger than max/i.test(status.details ?? '')) onOversize(call.getPeer(), status.details ?? '');
      sendStatus(status);
    };
    return new grpc.ServerInterceptingCall(call);
  };
}
