"""Turn MediaPipe's `face_landmark_with_attention.tflite` (legacy FaceMesh, refine_landmarks=True) into the
478-point landmark model the Tasks API's FaceLandmarker reads, with standard TFLite ops only.

The legacy model has three custom ops (MediaPipe's `Landmarks2TransformMatrix`, `TransformTensorBilinear`,
`TransformLandmarks`, v2) that the Tasks runtime does not register, and seven outputs (mesh 468x3, lips
80x2, eyes 71x2 each, irises 5x2 each, face flag) that the legacy graph merged with its
LandmarksRefinementCalculator. Here:

1. each custom op is replaced by a few builtin ops computing exactly what its reference kernel
   (mediapipe/util/tflite/operations/*.cc) computes: the crop transform from the mesh (rotation from two
   landmarks, rotated bounding box of a landmark subset), bilinear sampling of a feature map under that
   transform (gather of the four neighbours, zero outside), and the 2-D affine map of landmarks;
2. the refinement is appended as one GATHER from the concatenated outputs (mesh x,y,z; lips, eyes x,y
   replace the mesh's; iris x,y; iris z = the mean z of its eye's 16 contour points, as in
   tensors_to_face_landmarks_with_attention.pbtxt);
3. the model's outputs become (landmarks (1,1,1,1434), face flag (1,1,1,1)): what the Tasks
   face_landmarks_detector_graph splits (landmarks, presence score).

Pure function of the input bytes (no randomness, no timestamps): the output is reproducible.
"""
from __future__ import annotations

import numpy as np

LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409,
        78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415,
        76, 77, 90, 180, 85, 16, 315, 404, 320, 307, 306, 184, 74, 73, 72, 11, 302, 303, 304, 408,
        62, 96, 89, 179, 86, 15, 316, 403, 319, 325, 292, 183, 42, 41, 38, 12, 268, 271, 272, 407)
LEFT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173,
            130, 25, 110, 24, 23, 22, 26, 112, 243, 247, 30, 29, 27, 28, 56, 190,
            226, 31, 228, 229, 230, 231, 232, 233, 244, 113, 225, 224, 223, 222, 221, 189,
            35, 124, 46, 53, 52, 65, 143, 111, 117, 118, 119, 120, 121, 128, 245,
            156, 70, 63, 105, 66, 107, 55, 193)
RIGHT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398,
             359, 255, 339, 254, 253, 252, 256, 341, 463, 467, 260, 259, 257, 258, 286, 414,
             446, 261, 448, 449, 450, 451, 452, 453, 464, 342, 445, 444, 443, 442, 441, 413,
             265, 353, 276, 283, 282, 295, 372, 340, 346, 347, 348, 349, 350, 357, 465,
             383, 300, 293, 334, 296, 336, 285, 417)
LEFT_IRIS = (468, 469, 470, 471, 472)
RIGHT_IRIS = (473, 474, 475, 476, 477)
MESH = 468
TOTAL = 478


def _schema():
    from mediapipe.tasks.metadata import schema_py_generated as s
    return s


class Graph:
    """Append-only editor of subgraph 0 of a tflite ModelT."""

    def __init__(self, model):
        self.s = _schema()
        self.m = model
        self.g = model.subgraphs[0]
        self._codes = {}
        self._pending = []

    def opcode(self, name: str) -> int:
        s = self.s
        code = getattr(s.BuiltinOperator, name)
        if code not in self._codes:
            for i, oc in enumerate(self.m.operatorCodes):
                if max(oc.builtinCode, oc.deprecatedBuiltinCode) == code and not oc.customCode:
                    self._codes[code] = i
                    break
            else:
                oc = s.OperatorCodeT()
                oc.builtinCode = code
                oc.deprecatedBuiltinCode = min(code, 127)
                oc.version = 1
                self.m.operatorCodes.append(oc)
                self._codes[code] = len(self.m.operatorCodes) - 1
        return self._codes[code]

    def tensor(self, shape, dtype="FLOAT32", data: np.ndarray | None = None, name: str = "") -> int:
        s = self.s
        t = s.TensorT()
        t.shape = list(int(v) for v in shape)
        t.type = getattr(s.TensorType, dtype)
        t.buffer = 0  # the empty buffer: a computed tensor
        if data is not None:
            buf = s.BufferT()
            buf.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
            self.m.buffers.append(buf)
            t.buffer = len(self.m.buffers) - 1
        t.name = (name or f"std_op_{len(self.g.tensors)}").encode()
        self.g.tensors.append(t)
        return len(self.g.tensors) - 1

    def const(self, value, dtype="FLOAT32") -> int:
        arr = np.asarray(value, np.float32 if dtype == "FLOAT32" else np.int32)
        return self.tensor(arr.shape, dtype, arr)

    def shape_of(self, t: int) -> list[int]:
        return list(self.g.tensors[t].shape)

    def op(self, name: str, inputs, shape, dtype="FLOAT32", options=None, options_type=None, index=None) -> int:
        s = self.s
        out = self.tensor(shape, dtype)
        o = s.OperatorT()
        o.opcodeIndex = self.opcode(name)
        o.inputs = list(inputs)
        o.outputs = [out]
        if options is not None:
            o.builtinOptionsType = getattr(s.BuiltinOptions, options_type)
            o.builtinOptions = options
        self._pending.append(o)
        return out

    # -- builtin helpers --------------------------------------------------------------------------
    def reshape(self, x, shape):
        opt = self.s.ReshapeOptionsT()
        opt.newShape = list(shape)
        return self.op("RESHAPE", [x, self.const(shape, "INT32")], shape, options=opt, options_type="ReshapeOptions")

    def gather(self, x, indices, axis, shape):
        opt = self.s.GatherOptionsT()
        opt.axis = axis
        opt.batchDims = 0
        idx = indices if isinstance(indices, int) else self.const(indices, "INT32")
        return self.op("GATHER", [x, idx], shape, options=opt, options_type="GatherOptions")

    def matmul(self, a, b, shape):
        opt = self.s.BatchMatMulOptionsT()
        return self.op("BATCH_MATMUL", [a, b], shape, options=opt, options_type="BatchMatMulOptions")

    def dense(self, x, weights, bias=None):
        """x (1, in) → (1, out) = x @ weights.T + bias; weights (out, in) constant."""
        weights = np.asarray(weights, np.float32)
        opt = self.s.FullyConnectedOptionsT()
        ins = [x, self.const(weights)]
        ins.append(self.const(np.zeros(weights.shape[0]) if bias is None else bias))
        return self.op("FULLY_CONNECTED", ins, [self.shape_of(x)[0], weights.shape[0]], options=opt,
                       options_type="FullyConnectedOptions")

    def binary(self, name, a, b, shape):
        opts = {"ADD": ("AddOptions", self.s.AddOptionsT), "SUB": ("SubOptions", self.s.SubOptionsT),
                "MUL": ("MulOptions", self.s.MulOptionsT)}
        if name in opts:
            otype, cls = opts[name]
            return self.op(name, [a, b], shape, options=cls(), options_type=otype)
        return self.op(name, [a, b], shape)

    def reduce(self, name, x, axes, shape, keep=False):
        opt = self.s.ReducerOptionsT()
        opt.keepDims = keep
        return self.op(name, [x, self.const(axes, "INT32")], shape, options=opt, options_type="ReducerOptions")

    def unary(self, name, x, shape, dtype="FLOAT32"):
        return self.op(name, [x], shape, dtype)


def _flex_options(data: bytes) -> dict:
    from flatbuffers import flexbuffers
    return flexbuffers.Loads(bytes(data))


def landmarks_to_matrix(g: Graph, landmarks: int, opt: dict) -> int:
    """Landmarks2TransformMatrix v2: (1,468,3) landmarks → (1,4,4) crop transform."""
    n = g.shape_of(landmarks)[1]
    flat = g.reshape(landmarks, [n * 3])
    left, right = int(opt["left_rotation_idx"]), int(opt["right_rotation_idx"])
    subset = np.asarray(opt["subset_idxs"], np.int64).reshape(-1)
    lr = g.gather(flat, [[3 * left, 3 * left + 1], [3 * right, 3 * right + 1]], 0, [2, 2])
    pts = g.gather(flat, np.stack([3 * subset, 3 * subset + 1], axis=1), 0, [len(subset), 2])
    d = g.matmul(g.const([[-1.0, 1.0]]), lr, [1, 2])                      # (dx, dy) right - left
    n2 = g.reduce("SUM", g.binary("MUL", d, d, [1, 2]), [1], [1, 1], keep=True)
    u = g.binary("MUL", d, g.unary("RSQRT", n2, [1, 1]), [1, 2])         # (cos a, sin a)
    t = float(opt["target_rotation_radians"])
    ct, st = np.cos(t), np.sin(t)
    cs = g.matmul(u, g.const([[ct, st], [st, -ct]]), [1, 2])            # (cos r, sin r), r = t - a
    rot_t = g.reshape(g.matmul(cs, g.const([[1, 0, 0, 1], [0, 1, -1, 0]]), [1, 4]), [2, 2])  # R^T
    rot = g.reshape(g.matmul(cs, g.const([[1, 0, 0, 1], [0, -1, 1, 0]]), [1, 4]), [2, 2])    # R
    rotated = g.matmul(pts, rot_t, [len(subset), 2])                      # rows: R @ p
    hi = g.reduce("REDUCE_MAX", rotated, [0], [2])
    lo = g.reduce("REDUCE_MIN", rotated, [0], [2])
    size = g.binary("SUB", hi, lo, [2])                                   # crop width, height
    mid = g.reshape(g.binary("MUL", g.binary("ADD", hi, lo, [2]), g.const([0.5, 0.5]), [2]), [1, 2])
    centre = g.matmul(mid, rot, [1, 2])                                   # R^-1 @ mid
    out_w, out_h = float(opt["output_width"]), float(opt["output_height"])
    sxy = g.binary("MUL", size, g.const([float(opt["scale_x"]) / out_w, float(opt["scale_y"]) / out_h]), [2])
    q = g.reshape(g.matmul(g.reshape(sxy, [2, 1]), cs, [2, 2]), [1, 4])  # sx c, sx s, sy c, sy s
    feats = g.op("CONCATENATION", [q, centre], [1, 6], options=_concat(g, 1), options_type="ConcatenationOptions")
    hx, hy = -out_w / 2.0, -out_h / 2.0
    w = np.zeros((16, 6), np.float32)
    w[0, 0] = 1            # M00 = c sx
    w[1, 3] = 1            # M01 = s sy
    w[3, 0], w[3, 3], w[3, 4] = hx, hy, 1        # tx = M00 hx + M01 hy + cx
    w[4, 1] = -1           # M10 = -s sx
    w[5, 2] = 1            # M11 = c sy
    w[7, 1], w[7, 2], w[7, 5] = -hx, hy, 1       # ty = M10 hx + M11 hy + cy
    bias = np.zeros(16, np.float32)
    bias[10] = bias[15] = 1.0
    return g.reshape(g.dense(feats, w, bias), [1, 4, 4])


def _concat(g: Graph, axis: int):
    opt = g.s.ConcatenationOptionsT()
    opt.axis = axis
    return opt


def transform_tensor_bilinear(g: Graph, data: int, matrix: int, out_h: int, out_w: int) -> int:
    """TransformTensorBilinear v2: feature map (1,H,W,C) sampled at the matrix's grid → (1,oh,ow,C)."""
    _, h, w, c = g.shape_of(data)
    k = out_h * out_w
    mflat = g.reshape(matrix, [16])
    a = g.gather(mflat, [[0, 4], [1, 5], [3, 7]], 0, [3, 2])
    ys, xs = np.meshgrid(np.arange(out_h), np.arange(out_w), indexing="ij")
    grid = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5, np.ones(k)], axis=1)   # pixel centres
    tc = g.binary("ADD", g.matmul(g.const(grid), a, [k, 2]), g.const([-0.5, -0.5]), [k, 2])
    clipped = g.binary("MINIMUM", g.binary("MAXIMUM", tc, g.const([0.0, 0.0]), [k, 2]),
                       g.const([w - 1.0, h - 1.0]), [k, 2])
    inside = g.op("CAST", [g.op("EQUAL", [clipped, tc], [k, 2], "BOOL")], [k, 2])
    mask = g.reduce("REDUCE_PROD", inside, [1], [k, 1], keep=True)
    fl = g.unary("FLOOR", clipped, [k, 2])
    fr = g.binary("SUB", clipped, fl, [k, 2])
    wp = w + 1
    lin = g.dense(fl, [[1.0, float(wp)]] * 4, [0.0, 1.0, float(wp), float(wp + 1)])   # (k, 4) corner indices
    idx = g.op("CAST", [lin], [k, 4], "INT32")
    pad = g.op("PAD", [data, g.const([[0, 0], [0, 1], [0, 1], [0, 0]], "INT32")], [1, h + 1, w + 1, c],
               options=g.s.PadOptionsT(), options_type="PadOptions")
    table = g.reshape(pad, [(h + 1) * wp, c])
    corners = g.gather(table, idx, 0, [k, 4, c])
    wx = g.dense(fr, [[-1, 0], [1, 0], [-1, 0], [1, 0]], [1, 0, 1, 0])   # 1-fx, fx, 1-fx, fx
    wy = g.dense(fr, [[0, -1], [0, -1], [0, 1], [0, 1]], [1, 1, 0, 0])   # 1-fy, 1-fy, fy, fy
    weights = g.binary("MUL", g.binary("MUL", wx, wy, [k, 4]), mask, [k, 4])
    out = g.matmul(g.reshape(weights, [k, 1, 4]), corners, [k, 1, c])
    return g.reshape(out, [1, out_h, out_w, c])


def transform_landmarks(g: Graph, points: int, matrix: int) -> int:
    """TransformLandmarks v2 (2-D): (1,N,2) points → the matrix's affine map of them."""
    _, n, _ = g.shape_of(points)
    mflat = g.reshape(matrix, [16])
    lin = g.reshape(g.gather(mflat, [[0, 4], [1, 5]], 0, [2, 2]), [1, 2, 2])
    shift = g.reshape(g.gather(mflat, [3, 7], 0, [2]), [1, 1, 2])
    return g.binary("ADD", g.matmul(points, lin, [1, n, 2]), shift, [1, n, 2])


def refinement_indices() -> tuple[np.ndarray, np.ndarray]:
    """Flat index (1434,) into concat(mesh 1404, lips 160, left eye 142, right eye 142, left iris 10,
    right iris 10, iris z 2) for the refined 478x3 landmarks, and the (2,1404) weights of the iris z."""
    src = np.zeros((TOTAL, 3), np.int64)
    src[:MESH] = np.arange(MESH * 3).reshape(MESH, 3)
    offset = MESH * 3
    for group in (LIPS, LEFT_EYE, RIGHT_EYE, LEFT_IRIS, RIGHT_IRIS):
        for j, i in enumerate(group):
            src[i, 0], src[i, 1] = offset + 2 * j, offset + 2 * j + 1
        offset += 2 * len(group)
    zw = np.zeros((2, MESH * 3), np.float32)
    for side, (eye, iris) in enumerate(((LEFT_EYE, LEFT_IRIS), (RIGHT_EYE, RIGHT_IRIS))):
        zw[side, [3 * i + 2 for i in eye[:16]]] = 1.0 / 16
        src[list(iris), 2] = offset + side
    return src.reshape(-1), zw


def convert(model_bytes: bytes) -> bytes:
    """The attention model's bytes → the 478-point standard-op model's bytes (no metadata: add it after)."""
    import flatbuffers

    s = _schema()
    model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(model_bytes, 0))
    model.metadata = None
    model.metadataBuffer = None
    g = Graph(model)
    sub = g.g
    new_ops = []
    for op in sub.operators:
        oc = model.operatorCodes[op.opcodeIndex]
        name = oc.customCode.decode() if oc.customCode else None
        if name is None:
            new_ops.append(op)
            continue
        g._pending = []
        opt = _flex_options(op.customOptions) if op.customOptions is not None else {}
        if name == "Landmarks2TransformMatrix":
            result = landmarks_to_matrix(g, op.inputs[0], opt)
        elif name == "TransformTensorBilinear":
            oh, ow = g.shape_of(op.outputs[0])[1:3]
            result = transform_tensor_bilinear(g, op.inputs[0], op.inputs[1], oh, ow)
        elif name == "TransformLandmarks":
            result = transform_landmarks(g, op.inputs[0], op.inputs[1])
        else:
            raise ValueError(f"unexpected custom op {name}")
        # the last new op writes the custom op's output tensor instead of its own
        g._pending[-1].outputs = [op.outputs[0]]
        new_ops.extend(g._pending)
        del result
    mesh, lips, leye, reye, liris, riris, flag = sub.outputs
    g._pending = []
    flats = [g.reshape(t, [int(np.prod(g.shape_of(t)))]) for t in (mesh, lips, leye, reye, liris, riris)]
    index, zw = refinement_indices()
    z = g.reshape(g.dense(g.reshape(mesh, [1, MESH * 3]), zw), [2])
    total = sum(int(np.prod(g.shape_of(t))) for t in (mesh, lips, leye, reye, liris, riris)) + 2
    source = g.op("CONCATENATION", flats + [z], [total], options=_concat(g, 0), options_type="ConcatenationOptions")
    refined = g.reshape(g.gather(source, index, 0, [TOTAL * 3]), [1, 1, 1, TOTAL * 3])
    new_ops.extend(g._pending)
    sub.operators = new_ops
    sub.tensors[refined].name = b"landmarks_478"
    sub.outputs = [refined, flag]
    # drop the custom op codes no operator uses any more (keeps the file free of custom ops)
    used = sorted({op.opcodeIndex for op in sub.operators})
    remap = {old: new for new, old in enumerate(used)}
    model.operatorCodes = [model.operatorCodes[i] for i in used]
    for op in sub.operators:
        op.opcodeIndex = remap[op.opcodeIndex]
    builder = flatbuffers.Builder(len(model_bytes) + 1024 * 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
