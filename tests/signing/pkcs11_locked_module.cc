// A test PKCS#11 module: SoftHSM with a user PIN that is locked. Every C_Login answers
// CKR_PIN_LOCKED (SoftHSM itself never locks a PIN), everything else is SoftHSM's.
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>

namespace {

CK_FUNCTION_LIST g_shim;

CK_RV LockedLogin(CK_SESSION_HANDLE, CK_USER_TYPE, CK_UTF8CHAR_PTR, CK_ULONG) { return CKR_PIN_LOCKED; }

}  // namespace

extern "C" __attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out) {
  void* h = ::dlopen("/usr/lib/softhsm/libsofthsm2.so", RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) return CKR_GENERAL_ERROR;
  auto get = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(h, "C_GetFunctionList"));
  CK_FUNCTION_LIST_PTR real = nullptr;
  if (get == nullptr || get(&real) != CKR_OK) return CKR_GENERAL_ERROR;
  g_shim = *real;
  g_shim.C_Login = LockedLogin;
  *out = &g_shim;
  return CKR_OK;
}
