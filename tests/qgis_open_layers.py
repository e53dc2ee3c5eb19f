"""Open every layer of a GeoPackage in QGIS (run by Debian's /usr/bin/python3, not the venv).

Usage: ``QT_QPA_PLATFORM=offscreen /usr/bin/python3 qgis_open_layers.py FILE.gpkg``. Prints one
JSON object: for each layer whether it is valid, its feature count, the renderer QGIS gave it
(type and class attribute) and the styles QGIS lists in the file; plus every message QGIS logged
and every GDAL warning or error raised while the layers were opened. tests/test_outputs.py
judges the output.
"""

import json
import sys

from osgeo import gdal, ogr
from qgis.core import QgsApplication, QgsVectorLayer

path = sys.argv[1]
messages = []
gdal_messages = []


def on_gdal(level, number, text):
    gdal_messages.append({"level": int(level), "number": int(number), "text": str(text)})


gdal.PushErrorHandler(on_gdal)
app = QgsApplication([], False)
app.initQgis()
QgsApplication.messageLog().messageReceived.connect(
    lambda text, tag, level: messages.append({"tag": tag, "level": int(level), "text": text}))

ds = ogr.Open(path)
names = [ds.GetLayer(i).GetName() for i in range(ds.GetLayerCount())]
ds = None
layers = {}
for name in names:
    layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
    renderer = layer.renderer()
    styles = layer.listStylesInDatabase() if layer.isValid() else (0, [], [], [], "")
    layers[name] = {
        "valid": layer.isValid(),
        "features": int(layer.featureCount()),
        "spatial": layer.isSpatial(),
        "renderer": renderer.type() if renderer is not None else None,
        "class_attribute": getattr(renderer, "classAttribute", lambda: None)(),
        "categories": len(renderer.categories()) if hasattr(renderer, "categories") else None,
        "styles_for_layer": list(styles[2][: styles[0]]),
    }
    del layer
app.processEvents()
print(json.dumps({"layers": layers, "messages": messages, "gdal": gdal_messages},
                 ensure_ascii=False))
app.exitQgis()
