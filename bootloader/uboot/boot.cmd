# ptfw A/B boot script for a stock U-Boot (hush). Compile: mkimage -A arm64 -T script -C none -d boot.cmd boot.scr
# Rules: bootloader/uboot/README.md ("The boot script"); fwboot boot models the same rules on the host.
# 1. Read both copies of the redundant A/B environment from the virtio disk; take the newer valid
#    one (U-Boot's incremental flags rule, wrap-around 0xff -> 0x00). None valid: boot slot A, write nothing.
# 2. upgrade_available=1: the first slot T of BOOT_ORDER is a trial. BOOT_T_LEFT > 0: BOOT_T_LEFT-1,
#    bootcount+1, FW_BOOTED=T, persisted BEFORE the handover (no handover if the write fails).
#    BOOT_T_LEFT = 0: the trial failed: BOOT_ORDER = the other slot, FW_T_STATE=unbootable, persist.
# 3. Otherwise the first slot S of BOOT_ORDER with BOOT_S_LEFT > 0 boots (FW_BOOTED=S persisted).
# 4. The bank is our signed image: the 64-byte header is skipped so the payload (an arm64 Image)
#    lands at kernel_addr_r; bootargs carry fw.slot=A|B. U-Boot checks no signature of ours.

# --- Disk layout, in 512-byte blocks, and env_size (make-disk.sh reads these six lines: keep their format) ---
setenv fw_env0_blk 0x2800
setenv fw_env1_blk 0x3000
setenv fw_bank_a_blk 0x8000
setenv fw_bank_b_blk 0xc000
setenv fw_bank_blks 0x4000
# env_size in bytes (16 KiB): one copy = crc32 (4) + flags (1) + data
setenv fw_env_size 0x4000

# Scratch memory (QEMU virt: RAM from 0x40000000; U-Boot relocates itself to the top).
setenv fw_buf0 0x41000000
setenv fw_buf1 0x41100000
setenv fw_imp 0x41200000
setenv fw_exp 0x41300000
setenv fw_out 0x41400000
setenv fw_chk 0x41500000
setenv fw_hdr 0x41600000
if test -z "${kernel_addr_r}"; then setenv kernel_addr_r 0x40400000; fi
# Our variables, in two sorted halves: a command takes at most 16 arguments (CONFIG_SYS_MAXARGS).
setenv fw_vars1 "BOOT_A_LEFT BOOT_B_LEFT BOOT_ORDER FW_ACTIVE FW_A_COUNTER FW_A_STATE FW_A_VERSION"
setenv fw_vars2 "FW_BOOTED FW_B_COUNTER FW_B_STATE FW_B_VERSION FW_MIN_COUNTER bootcount upgrade_available"
setenv fw_vars "${fw_vars1} ${fw_vars2}"
setexpr fw_env_blks ${fw_env_size} / 0x200
setexpr fw_imp_size ${fw_env_size} - 1
setexpr fw_data_size ${fw_env_size} - 5
setexpr fw_imp_data ${fw_imp} + 4
setexpr fw_crc_b1 ${fw_exp} + 1
setexpr fw_crc_b2 ${fw_exp} + 2
setexpr fw_crc_b3 ${fw_exp} + 3
setexpr fw_out_b1 ${fw_out} + 1
setexpr fw_out_b2 ${fw_out} + 2
setexpr fw_out_b3 ${fw_out} + 3
setexpr fw_out_flags ${fw_out} + 4
setexpr fw_out_data ${fw_out} + 5

# fw_clear: delete our variables (env import leaves a listed variable the copy lacks untouched).
setenv fw_clear 'for v in ${fw_vars}; do setenv ${v}; done'
# fw_import: copy fw_c (0|1) -> crc|data re-assembled at fw_imp (the flags byte follows the CRC)
# and imported (our variables only); fw_ok=1 if its CRC holds.
setenv fw_import 'setenv fw_ok 0; if test ${fw_c} = 0; then setenv fw_src ${fw_buf0}; else setenv fw_src ${fw_buf1}; fi; setexpr fw_src_data ${fw_src} + 5; cp.b ${fw_src} ${fw_imp} 4; cp.b ${fw_src_data} ${fw_imp_data} ${fw_data_size}; run fw_clear; if env import -c ${fw_imp} ${fw_imp_size} ${fw_vars1}; then env import -c ${fw_imp} ${fw_imp_size} ${fw_vars2}; setenv fw_ok 1; fi'
# fw_persist: our variables into the copy NOT in use with flags+1, written, read back and compared;
# fw_ok=1 on success (then that copy is the one in use). `env export -c` would need all 14 names
# in one command, so the data is assembled from two binary exports (`-t` gives each half's length),
# padded with 0xff, and the CRC (crc32 stores it big-endian) is stored little-endian.
setenv fw_persist 'setenv fw_ok 0; setexpr fw_next 1 - ${fw_cur}; setexpr fw_nflags ${fw_flags} + 1; setexpr fw_nflags ${fw_nflags} % 0x100; if test ${fw_next} = 0; then setenv fw_blk ${fw_env0_blk}; else setenv fw_blk ${fw_env1_blk}; fi; env export -t ${fw_exp} ${fw_vars1}; setexpr fw_len1 ${filesize} - 1; env export -t ${fw_exp} ${fw_vars2}; setexpr fw_len2 ${filesize} - 1; setexpr fw_used ${fw_len1} + ${fw_len2}; setexpr fw_used ${fw_used} + 1; if test 0x${fw_used} -gt 0x${fw_data_size}; then echo "ptfw: ERROR: the A/B variables do not fit env_size"; else env export -b ${fw_out_data} ${fw_vars1}; setexpr fw_a ${fw_out_data} + ${fw_len1}; env export -b ${fw_a} ${fw_vars2}; setexpr fw_a ${fw_out_data} + ${fw_used}; setexpr fw_n ${fw_data_size} - ${fw_used}; mw.b ${fw_a} 0xff ${fw_n}; mw.b ${fw_out_flags} ${fw_nflags} 1; crc32 ${fw_out_data} ${fw_data_size} ${fw_exp}; cp.b ${fw_crc_b3} ${fw_out} 1; cp.b ${fw_crc_b2} ${fw_out_b1} 1; cp.b ${fw_crc_b1} ${fw_out_b2} 1; cp.b ${fw_exp} ${fw_out_b3} 1; if virtio write ${fw_out} ${fw_blk} ${fw_env_blks}; then if virtio read ${fw_chk} ${fw_blk} ${fw_env_blks}; then if cmp.b ${fw_out} ${fw_chk} ${fw_env_size}; then setenv fw_ok 1; setenv fw_cur ${fw_next}; setenv fw_flags ${fw_nflags}; echo "ptfw: A/B environment written to copy ${fw_next} (flags 0x${fw_nflags})"; fi; fi; fi; fi'
# fw_left_of: fw_left = BOOT_<fw_s>_LEFT when it is a digit 1..9, else 0.
setenv fw_left_of 'setenv fw_v; if test "${fw_s}" = A; then setenv fw_v "${BOOT_A_LEFT}"; elif test "${fw_s}" = B; then setenv fw_v "${BOOT_B_LEFT}"; fi; setenv fw_left 0; for n in 1 2 3 4 5 6 7 8 9; do if test "${fw_v}" = ${n}; then setenv fw_left ${n}; fi; done'

echo "ptfw: A/B boot script"
virtio dev 0
setenv fw_valid0 0
setenv fw_valid1 0
if virtio read ${fw_buf0} ${fw_env0_blk} ${fw_env_blks}; then setenv fw_c 0; run fw_import; setenv fw_valid0 ${fw_ok}; fi
if virtio read ${fw_buf1} ${fw_env1_blk} ${fw_env_blks}; then setenv fw_c 1; run fw_import; setenv fw_valid1 ${fw_ok}; fi
setexpr fw_a ${fw_buf0} + 4
setexpr.b fw_flags0 *${fw_a}
setexpr fw_a ${fw_buf1} + 4
setexpr.b fw_flags1 *${fw_a}
echo "ptfw: env copy 0 valid=${fw_valid0} flags=0x${fw_flags0}; env copy 1 valid=${fw_valid1} flags=0x${fw_flags1}"

setenv fw_cur none
if test ${fw_valid0} = 1 -a ${fw_valid1} = 1; then
  # Both valid: U-Boot's and libubootenv's rule for incremental flags.
  setenv fw_cur 0
  if test ${fw_flags0} = ff -a ${fw_flags1} = 0; then
    setenv fw_cur 1
  elif test ${fw_flags1} = ff -a ${fw_flags0} = 0; then
    setenv fw_cur 0
  elif test 0x${fw_flags1} -gt 0x${fw_flags0}; then
    setenv fw_cur 1
  fi
elif test ${fw_valid0} = 1; then
  setenv fw_cur 0
elif test ${fw_valid1} = 1; then
  setenv fw_cur 1
fi

setenv fw_slot
if test ${fw_cur} = none; then
  echo "ptfw: no valid A/B environment copy: built-in default, booting slot A, writing nothing"
  run fw_clear
  setenv fw_slot A
else
  setenv fw_c ${fw_cur}
  run fw_import
  if test ${fw_cur} = 0; then setenv fw_flags ${fw_flags0}; else setenv fw_flags ${fw_flags1}; fi
  echo "ptfw: using env copy ${fw_cur}: BOOT_ORDER=${BOOT_ORDER} BOOT_A_LEFT=${BOOT_A_LEFT} BOOT_B_LEFT=${BOOT_B_LEFT} upgrade_available=${upgrade_available} bootcount=${bootcount}"

  # Rule 2: a pending trial.
  if test "${upgrade_available}" = 1; then
    setenv fw_t
    for s in ${BOOT_ORDER}; do if test -z "${fw_t}"; then setenv fw_t ${s}; fi; done
    setenv fw_s ${fw_t}
    run fw_left_of
    if test "${fw_t}" != A -a "${fw_t}" != B; then
      echo "ptfw: upgrade_available=1 but BOOT_ORDER has no trial slot"
    elif test ${fw_left} != 0; then
      setexpr fw_left ${fw_left} - 1
      setenv BOOT_${fw_t}_LEFT ${fw_left}
      # bootcount + 1 in decimal (setexpr counts in hex): 0..8 -> +1, saturates at 9 (tries <= 9)
      setenv fw_bc 1
      for n in 1 2 3 4 5 6 7 8; do if test "${bootcount}" = ${n}; then setexpr fw_bc ${n} + 1; fi; done
      if test "${bootcount}" = 9; then setenv fw_bc 9; fi
      setenv bootcount ${fw_bc}
      setenv FW_BOOTED ${fw_t}
      setenv fw_ok 0
      run fw_persist
      if test ${fw_ok} != 1; then
        echo "ptfw: ERROR: cannot persist the try count of the trial; refusing to boot slot ${fw_t}"
        reset
      fi
      echo "ptfw: trial of slot ${fw_t}, ${fw_left} tries left after this boot"
      setenv fw_slot ${fw_t}
    else
      echo "ptfw: trial of slot ${fw_t} has no tries left: falling back"
      if test ${fw_t} = A; then setenv BOOT_ORDER B; else setenv BOOT_ORDER A; fi
      setenv upgrade_available 0
      setenv FW_${fw_t}_STATE unbootable
      setenv bootcount 0
      setenv fw_ok 0
      run fw_persist
      if test ${fw_ok} != 1; then echo "ptfw: WARNING: cannot persist the fallback (it is decided again on the next boot)"; fi
    fi
  fi

  # Rule 3: the first slot of BOOT_ORDER with tries left.
  if test -z "${fw_slot}"; then
    for s in ${BOOT_ORDER}; do
      if test -z "${fw_slot}"; then
        setenv fw_s ${s}
        run fw_left_of
        if test ${fw_left} != 0; then setenv fw_slot ${s}; fi
      fi
    done
    if test -z "${fw_slot}"; then
      echo "ptfw: ERROR: no slot in BOOT_ORDER=${BOOT_ORDER} has tries left; not booting"
      reset
    fi
    if test "${FW_BOOTED}" != ${fw_slot}; then
      setenv FW_BOOTED ${fw_slot}
      setenv fw_ok 0
      run fw_persist
      if test ${fw_ok} != 1; then echo "ptfw: WARNING: cannot persist FW_BOOTED=${fw_slot}"; fi
    fi
  fi
fi

# Handover: load the bank (header skipped), check our header's magic and size, booti.
if test ${fw_slot} = A; then setenv fw_bank_blk ${fw_bank_a_blk}; else setenv fw_bank_blk ${fw_bank_b_blk}; fi
setenv fw_fail 1
if virtio read ${fw_hdr} ${fw_bank_blk} 1; then
  setexpr.l fw_magic *${fw_hdr}
  setexpr fw_a ${fw_hdr} + 8
  setexpr.l fw_psize *${fw_a}
  setexpr fw_a ${fw_hdr} + 0xc
  setexpr.l fw_psize_hi *${fw_a}
  setexpr fw_max ${fw_bank_blks} * 0x200
  setexpr fw_max ${fw_max} - 0x40
  if test ${fw_magic} != 57465450; then
    echo "ptfw: ERROR: bank ${fw_slot} holds no signed image (magic 0x${fw_magic})"
  elif test ${fw_psize_hi} != 0 -o 0x${fw_psize} -gt 0x${fw_max}; then
    echo "ptfw: ERROR: bank ${fw_slot}: payload size 0x${fw_psize} does not fit the bank"
  else
    setexpr fw_blks ${fw_psize} + 0x23f
    setexpr fw_blks ${fw_blks} / 0x200
    setexpr fw_load ${kernel_addr_r} - 0x40
    if virtio read ${fw_load} ${fw_bank_blk} ${fw_blks}; then setenv fw_fail 0; fi
  fi
fi
if test ${fw_fail} = 0; then
  if test -n "${fw_bootargs}"; then setenv bootargs "${fw_bootargs} fw.slot=${fw_slot}"; else setenv bootargs "fw.slot=${fw_slot}"; fi
  echo "ptfw: booting slot ${fw_slot} (bootargs: ${bootargs})"
  booti ${kernel_addr_r} - ${fdtcontroladdr}
fi
echo "ptfw: ERROR: slot ${fw_slot} did not start"
reset
