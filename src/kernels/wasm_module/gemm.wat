;; Dense products for src/kernels/wasm_gemm.ts, a module of its own beside kernels.wat (each stays
;; under the 4 KB a browser compiles synchronously on its main thread), on the same memory.
(module
  (import "env" "memory" (memory 1 65536 MEMORY_SHARED))

  ;; C = A·B (+ bias), src/kernels/wasm_gemm.ts: c[m, n] = bias[n] + sum over k of a[m, k]·b[k, n],
  ;; each step a float32 multiply then add, k in order. A's element (m, k) is at
  ;; a + m·rowStride + k·kStride bytes, so A can be row-major [M, K] or its transpose [K, M]; B is
  ;; [K, N] and C [M, N], row-major; bias 0 means none. M must be a multiple of 4 and N of 8. B is
  ;; read as it is: XNNPACK first repacks it on every new weight tensor. Units are 64-row blocks
  ;; times 8-column strips, strip-fastest, so a thread's consecutive units share A's rows; each
  ;; keeps a 4x8 tile of C in registers over the whole of K.
  (func (export "matMul")
    (param $a i32) (param $b i32) (param $bias i32) (param $c i32) (param $m i32) (param $k i32) (param $n i32)
    (param $rowStride i32) (param $kStride i32) (param $unitStart i32) (param $unitEnd i32)
    (local $unit i32) (local $strips i32) (local $row i32) (local $rowEnd i32) (local $col i32)
    (local $rowOffset1 i32) (local $rowOffset2 i32) (local $rowOffset3 i32) (local $nBytes i32)
    (local $pa i32) (local $pb i32) (local $pc i32) (local $kLeft i32)
    (local $b0 v128) (local $b1 v128) (local $s v128) (local $init0 v128) (local $init1 v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local.set $rowOffset1 (local.get $rowStride))
    (local.set $rowOffset2 (i32.shl (local.get $rowStride) (i32.const 1)))
    (local.set $rowOffset3 (i32.mul (local.get $rowStride) (i32.const 3)))
    (local.set $nBytes (i32.shl (local.get $n) (i32.const 2)))
    (local.set $strips (i32.shr_u (local.get $n) (i32.const 3)))
    (local.set $unit (local.get $unitStart))
    (block $unitsDone
      (loop $units
        (br_if $unitsDone (i32.ge_u (local.get $unit) (local.get $unitEnd)))
        (local.set $col (i32.shl (i32.rem_u (local.get $unit) (local.get $strips)) (i32.const 5)))
        (local.set $row (i32.shl (i32.div_u (local.get $unit) (local.get $strips)) (i32.const 6)))
        (local.set $rowEnd (i32.add (local.get $row) (i32.const 64)))
        (if (i32.gt_u (local.get $rowEnd) (local.get $m)) (then (local.set $rowEnd (local.get $m))))
        (if (local.get $bias)
          (then
            (local.set $init0 (v128.load (i32.add (local.get $bias) (local.get $col))))
            (local.set $init1 (v128.load offset=16 (i32.add (local.get $bias) (local.get $col)))))
          (else
            (local.set $init0 (v128.const i64x2 0 0))
            (local.set $init1 (v128.const i64x2 0 0))))
        (block $rowsDone
          (loop $rows
            (br_if $rowsDone (i32.ge_u (local.get $row) (local.get $rowEnd)))
        (local.set $c00 (local.get $init0)) (local.set $c01 (local.get $init1))
        (local.set $c10 (local.get $init0)) (local.set $c11 (local.get $init1))
        (local.set $c20 (local.get $init0)) (local.set $c21 (local.get $init1))
        (local.set $c30 (local.get $init0)) (local.set $c31 (local.get $init1))
        (local.set $pa (i32.add (local.get $a) (i32.mul (local.get $row) (local.get $rowStride))))
        (local.set $pb (i32.add (local.get $b) (local.get $col)))
        (local.set $kLeft (local.get $k))
        (loop $ks
          (local.set $b0 (v128.load (local.get $pb)))
          (local.set $b1 (v128.load offset=16 (local.get $pb)))
          (local.set $s (v128.load32_splat (local.get $pa)))
          (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $s) (local.get $b0))))
          (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $s) (local.get $b1))))
          (local.set $s (v128.load32_splat (i32.add (local.get $pa) (local.get $rowOffset1))))
          (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $s) (local.get $b0))))
          (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $s) (local.get $b1))))
          (local.set $s (v128.load32_splat (i32.add (local.get $pa) (local.get $rowOffset2))))
          (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $s) (local.get $b0))))
          (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $s) (local.get $b1))))
          (local.set $s (v128.load32_splat (i32.add (local.get $pa) (local.get $rowOffset3))))
          (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $s) (local.get $b0))))
          (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $s) (local.get $b1))))
          (local.set $pa (i32.add (local.get $pa) (local.get $kStride)))
          (local.set $pb (i32.add (local.get $pb) (local.get $nBytes)))
          (br_if $ks (local.tee $kLeft (i32.sub (local.get $kLeft) (i32.const 1)))))
        (local.set $pc (i32.add (i32.add (local.get $c) (i32.mul (local.get $row) (local.get $nBytes))) (local.get $col)))
        (v128.store (local.get $pc) (local.get $c00))
        (v128.store offset=16 (local.get $pc) (local.get $c01))
        (local.set $pc (i32.add (local.get $pc) (local.get $nBytes)))
        (v128.store (local.get $pc) (local.get $c10))
        (v128.store offset=16 (local.get $pc) (local.get $c11))
        (local.set $pc (i32.add (local.get $pc) (local.get $nBytes)))
        (v128.store (local.get $pc) (local.get $c20))
        (v128.store offset=16 (local.get $pc) (local.get $c21))
        (local.set $pc (i32.add (local.get $pc) (local.get $nBytes)))
        (v128.store (local.get $pc) (local.get $c30))
        (v128.store offset=16 (local.get $pc) (local.get $c31))
        (local.set $row (i32.add (local.get $row) (i32.const 4)))
            (br $rows)))
        (local.set $unit (i32.add (local.get $unit) (i32.const 1)))
        (br $units))))

  ;; im2col rows for the matMul above (src/kernels/wasm_gemm.ts): row (b, oy, ox) of out holds,
  ;; tap by tap (ky, kx), the input pixel's channels, zero where the tap falls in the padding;
  ;; row r times the filter [kh·kw·C, outC] is output pixel r. Units are output image rows.
  (func (export "im2colRows")
    (param $x i32) (param $out i32) (param $height i32) (param $width i32) (param $channels i32)
    (param $outHeight i32) (param $outWidth i32) (param $kh i32) (param $kw i32)
    (param $strideHeight i32) (param $strideWidth i32) (param $padTop i32) (param $padLeft i32)
    (param $rowStart i32) (param $rowEnd i32)
    (local $row i32) (local $ox i32) (local $ky i32) (local $kx i32) (local $iy i32) (local $ix i32)
    (local $o i32) (local $channelBytes i32) (local $imageRow i32)
    (local.set $channelBytes (i32.shl (local.get $channels) (i32.const 2)))
    (local.set $o (i32.add (local.get $out)
      (i32.mul (i32.mul (local.get $rowStart) (local.get $outWidth))
        (i32.mul (i32.mul (local.get $kh) (local.get $kw)) (local.get $channelBytes)))))
    (local.set $row (local.get $rowStart))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $row) (local.get $rowEnd)))
        ;; First input row of this image, and the input row of tap ky = 0.
        (local.set $imageRow (i32.mul (i32.div_u (local.get $row) (local.get $outHeight)) (local.get $height)))
        (local.set $ox (i32.const 0))
        (block $pixelsDone
          (loop $pixels
            (br_if $pixelsDone (i32.ge_u (local.get $ox) (local.get $outWidth)))
            (local.set $ky (i32.const 0))
            (loop $taprows
              (local.set $iy (i32.add (i32.sub (i32.mul (i32.rem_u (local.get $row) (local.get $outHeight)) (local.get $strideHeight)) (local.get $padTop)) (local.get $ky)))
              (local.set $kx (i32.const 0))
              (loop $taps
                (local.set $ix (i32.add (i32.sub (i32.mul (local.get $ox) (local.get $strideWidth)) (local.get $padLeft)) (local.get $kx)))
                ;; Unsigned comparisons: a negative row or column is outside too.
                (if (i32.and (i32.lt_u (local.get $iy) (local.get $height)) (i32.lt_u (local.get $ix) (local.get $width)))
                  (then
                    (memory.copy (local.get $o)
                      (i32.add (local.get $x)
                        (i32.mul (i32.add (i32.mul (i32.add (local.get $imageRow) (local.get $iy)) (local.get $width)) (local.get $ix))
                          (local.get $channelBytes)))
                      (local.get $channelBytes)))
                  (else (memory.fill (local.get $o) (i32.const 0) (local.get $channelBytes))))
                (local.set $o (i32.add (local.get $o) (local.get $channelBytes)))
                (br_if $taps (i32.lt_u (local.tee $kx (i32.add (local.get $kx) (i32.const 1))) (local.get $kw))))
              (br_if $taprows (i32.lt_u (local.tee $ky (i32.add (local.get $ky) (i32.const 1))) (local.get $kh))))
            (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
            (br $pixels)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rows)))
  )
)
